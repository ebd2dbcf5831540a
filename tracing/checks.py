"""A system check: bad tracing settings stop `manage.py serve`/`check` with one clear message."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register

from .otel.config import ConfigError


@register()
def tracing_configuration(app_configs: Any = None, **_kwargs: Any) -> list[Error]:
    from .telemetry import global_config

    try:
        global_config()
    except ConfigError as exc:
        return [Error(f"tracing: {exc}", id="tracing.E001")]
    return []
