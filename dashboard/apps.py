from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Script Runner"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from .accounts import sync_roles

        post_migrate.connect(sync_roles, sender=self)
