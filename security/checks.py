"""A system check: a malformed SECRET_ENCRYPTION_KEYS stops `manage.py serve`/`check` with one line."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured


@register()
def secret_encryption_keys(app_configs: Any = None, **_kwargs: Any) -> list[Error]:
    if not getattr(settings, "SECRET_ENCRYPTION_KEYS", None):
        return []  # a key is generated into the data directory when first needed
    from .crypto import configured_keys

    try:
        configured_keys()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="security.E001")]
    return []
