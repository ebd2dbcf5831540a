from django.apps import AppConfig


class CostsConfig(AppConfig):
    name = "costs"
    verbose_name = "Costs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from .catalogues import ensure_catalogue

        # A fresh clone has prices after `migrate`: built offline from the installed apache-libcloud.
        post_migrate.connect(ensure_catalogue, sender=self, dispatch_uid="costs.ensure_catalogue")
