"""What a browser gets when it (re)connects: the state of a run, or of the run list, with a seq."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from .changes import _run_event
from .models import Run, TaskRun, task_state

RUN_FIELDS = ("id", "number", "status", "trigger", "message", "created_at", "started_at", "finished_at", "last_seq")


def run_snapshot(run_id: int) -> dict[str, Any] | None:
    """The run row first (its last_seq), then the tasks: a task row is never older than that seq.

    A task row may already include a change whose event is still on its way; each task row
    carries the seq that last changed it, so the browser skips the older event.
    """
    row = Run.objects.filter(pk=run_id).values(*RUN_FIELDS, "workflow__name").first()
    if row is None:
        return None
    tasks = [task_state(t) for t in TaskRun.objects.filter(run_id=run_id).order_by("position").values()]
    run = _run_event({k: v for k, v in row.items() if k != "workflow__name"})
    run["workflow"] = row["workflow__name"]
    from .extensions import snapshot_extras

    snapshot = {"type": "snapshot", "seq": row["last_seq"], "run": run, "tasks": tasks}
    snapshot["extras"] = snapshot_extras(run_id)
    return snapshot


def run_list_row(run: Run | dict[str, Any]) -> dict[str, Any]:
    values = run if isinstance(run, dict) else {f: getattr(run, f) for f in RUN_FIELDS}
    return _run_event(dict(values))


def status_counts(run_id: int) -> dict[str, int]:
    rows = TaskRun.objects.filter(run_id=run_id).values("status").annotate(n=Count("id"))
    return {r["status"]: r["n"] for r in rows}
