"""The process's tracing configuration and its TracerProvider, built once from settings and env.

Settings: TRACING (a dict overriding the OTEL_*/TRACING_* environment; see tracing/otel/config.py).
"""

from __future__ import annotations

import os
import threading
from importlib import metadata

from django.conf import settings
from django.core.signals import setting_changed

from .otel.config import ENV_KEYS, TracingConfig, from_env
from .otel.setup import Telemetry

_lock = threading.Lock()
_telemetry: Telemetry | None = None


_config: tuple[tuple[object, ...], TracingConfig] | None = None


def global_config() -> TracingConfig:
    """The configuration from the environment and the TRACING setting. Every run reads it as it
    starts, so it is worked out again only when one of the variables it reads (ENV_KEYS) or the
    setting changed: parsing it each time cost ~0.1 ms of a run's start."""
    global _config
    overrides = getattr(settings, "TRACING", None) or {}
    values = {key: value for key in ENV_KEYS if (value := os.environ.get(key)) is not None}
    key = (tuple(values.items()), repr(overrides))
    cached = _config
    if cached is not None and cached[0] == key:
        return cached[1]
    config = from_env(values, overrides)  # raises ConfigError for a bad value, each time
    _config = (key, config)
    return config


def _version() -> str:
    try:
        return metadata.version("script-runner")
    except metadata.PackageNotFoundError:
        return ""


def telemetry() -> Telemetry:
    """This process's provider and exporters (one per process, made on first use)."""
    global _telemetry
    current = _telemetry
    if current is not None:
        return current
    with _lock:
        if _telemetry is None:
            _telemetry = Telemetry(global_config(), service_version=_version())
        return _telemetry


def reset() -> None:
    """Flush and drop the provider, so the next use reads the configuration again (tests)."""
    global _telemetry
    with _lock:
        old, _telemetry = _telemetry, None
    if old is not None:
        old.shutdown()


def _on_setting_changed(setting: str, **_kwargs: object) -> None:
    if setting in ("TRACING", "SITE_URL"):
        reset()


setting_changed.connect(_on_setting_changed, dispatch_uid="tracing.telemetry.reset")
