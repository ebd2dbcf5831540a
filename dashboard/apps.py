from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Script Runner"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from .accounts import sync_roles

        # No sender: the dashboard has no models, so post_migrate is never sent for it.
        post_migrate.connect(sync_roles, dispatch_uid="dashboard.sync_roles")
