"""Helpers for the costs tests: runs with task rows, and records stored the way the extension stores them."""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.conftest import make_workflow


def queued_run(text: str, **kwargs: Any):
    from workflows import runner

    return runner.create_run(make_workflow(text, **kwargs), trigger="cli", enqueue=False)


def add_record(run, amount: float, *, day: date | None = None, attempt: int = 1, status: str = "priced", tags=None):
    from costs.budgets import today
    from costs.records import store_record

    task = run.tasks.first()
    return store_record({
        "run_id": run.pk, "workflow_id": run.workflow_id, "taskrun_id": task.pk, "node_id": task.node_id,
        "task_id": task.task_id, "attempt_number": attempt, "is_retry": attempt > 1, "day": day or today(),
        "model": "allocation", "provider": "aws", "region": "us-east-1", "instance_type": "m5.large",
        "amount": amount, "status": status, "tags": tags if tags is not None else dict(run.tags),
    })  # fmt: skip
