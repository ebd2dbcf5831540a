"""Huey tasks: scans started from the API run on the queue, not in the request."""

from __future__ import annotations

from pathlib import Path

from django.db import close_old_connections
from huey.contrib.djhuey import task

from .models import Scan
from .scanning import scan_folder


@task()
def run_scan(scan_id: int) -> None:
    close_old_connections()
    scan = Scan.objects.select_related("target", "target__workflow").filter(pk=scan_id, status=Scan.QUEUED).first()
    if scan is None:
        return
    Scan.objects.filter(pk=scan_id).update(status=Scan.RUNNING)
    manifests = (scan.requested or {}).get("manifests")
    try:
        scan_folder(Path(scan.target.root), source="api", tools=scan.tools, manifests=manifests, scan=scan,
                    workflow=scan.target.workflow)  # fmt: skip
    except Exception:  # stored as the scan's failure by scan_folder; the queue needs no retry
        return
