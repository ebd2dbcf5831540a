"""`manage.py rotate_secret_keys`: re-encrypt every provider's credentials with the newest key.

Put a new key first in SECRET_ENCRYPTION_KEYS (keeping the old ones after it), restart, run this,
and then drop the old keys: nothing stored needs them any more.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from security.crypto import CredentialsUnreadable
from security.models import SecretProvider


class Command(BaseCommand):
    help = "Re-encrypt secret providers' credentials with the first key of SECRET_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        rotated = unchanged = 0
        failed: list[str] = []
        for provider in SecretProvider.objects.order_by("name"):
            try:
                if provider.rotate_credentials():
                    rotated += 1
                else:
                    unchanged += 1
            except CredentialsUnreadable:
                failed.append(provider.name)
            except ImproperlyConfigured as exc:
                raise CommandError(str(exc)) from None
        self.stdout.write(f"{rotated} provider(s) re-encrypted with the newest key, {unchanged} already were")
        if failed:
            raise CommandError(
                f"no configured key decrypts the credentials of: {', '.join(failed)} (re-enter them in their forms)"
            )
