"""Run changes stored outside a run's writer (queueing, cancel, recovery), and the run event that
every writer sends: each change takes the run's next sequence number, as the writer's do."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F

from dashboard.events import publish_events

from .models import Run, TaskRun, task_state


def _allocate_seqs(run_id: int, count: int, run_fields: dict[str, Any]) -> list[int]:
    """The run's next `count` sequence numbers; call inside the transaction that stores the events."""
    if not count:
        return []
    Run.objects.filter(pk=run_id).update(last_seq=F("last_seq") + count, **run_fields)
    last = Run.objects.filter(pk=run_id).values_list("last_seq", flat=True).get()
    return list(range(last - count + 1, last + 1))


def commit_changes(
    run_id: int,
    *,
    task_fields: dict[int, dict[str, Any]] | None = None,
    run_fields: dict[str, Any] | None = None,
    to_run_list: bool = False,
) -> list[dict[str, Any]]:
    """Store changes made outside a running run (queueing, cancel, recovery) and publish them."""
    task_fields = task_fields or {}
    run_fields = dict(run_fields or {})
    with transaction.atomic():
        seqs = _allocate_seqs(run_id, len(task_fields) + (1 if run_fields else 0), run_fields)
        for (pk, fields), seq in zip(task_fields.items(), seqs):
            TaskRun.objects.filter(pk=pk).update(seq=seq, **fields)
        rows = TaskRun.objects.filter(pk__in=task_fields).order_by("seq").values()
        events = [{"kind": "task", **task_state(row)} for row in rows]
        if run_fields:
            events.append(run_event(run_id, seqs[-1], run_fields))
    publish_events(run_id, events, to_run_list=to_run_list)
    return events


def run_event(run_id: int, seq: int, fields: dict[str, Any]) -> dict[str, Any]:
    """The event that tells the run's page and the run list what changed on the run row."""
    return {"kind": "run", "id": run_id, "seq": seq, **_run_event(fields)}


def _run_event(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in fields.items()}
