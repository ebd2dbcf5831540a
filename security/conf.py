"""The security app's settings, read from environment variables with defaults (see README)."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings


def scan_cache_path() -> Path:
    return Path(os.environ.get("SECURITY_SCAN_CACHE", settings.DATA_DIR / "scan-cache.sqlite3"))


def osv_online() -> bool:
    """OSV's HTTP API is asked only when OSV_ONLINE=1 (machines without a network never wait on it)."""
    return os.environ.get("OSV_ONLINE", "").strip().lower() in ("1", "true", "yes", "on")


def osv_api_url() -> str:
    return os.environ.get("OSV_API_URL", "https://api.osv.dev")


def scan_roots() -> list[Path]:
    """Folders the API may scan (besides workflows' own folders): SECURITY_SCAN_ROOTS, comma-separated."""
    roots = [Path(settings.RUNNER_WORKSPACES)]
    roots += [Path(p.strip()) for p in os.environ.get("SECURITY_SCAN_ROOTS", "").split(",") if p.strip()]
    return [r.resolve() for r in roots]
