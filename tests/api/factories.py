"""Workflows, runs and log lines for the API tests, made through the runner like the real thing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from tests.conftest import make_workflow
from workflows import runner
from workflows.models import LogLine, Run, TaskAttempt, TaskRun, Workflow

ETL = """
name: etl
description: nightly load
tags: {team: data}
params:
  day: {default: today, description: which day}
  mode: {default: full, choices: [full, delta]}
tasks:
  extract: {run: "echo extract ${{ params.day }}"}
  load: {run: "echo load", needs: [extract]}
"""


def add_workflow(text: str = ETL, **kwargs: Any) -> Workflow:
    return make_workflow(text, **kwargs)


def add_run(
    workflow: Workflow,
    status: str = Run.QUEUED,
    *,
    tasks: dict[str, str] | None = None,
    created_at: Any = None,
    user: Any = None,
    trigger: str = "ui",
) -> Run:
    """A run that never reaches the queue, put straight into the state a test needs."""
    run = runner.create_run(workflow, enqueue=False, user=user, trigger=trigger)
    now = timezone.now()
    fields: dict[str, Any] = {"status": status}
    if status != Run.QUEUED:
        fields["started_at"] = now - timedelta(seconds=5)
    if status in Run.FINAL:
        fields["finished_at"] = now
    if created_at is not None:
        fields["created_at"] = created_at
    Run.objects.filter(pk=run.pk).update(**fields)
    for node_id, task_status in (tasks or {}).items():
        TaskRun.objects.filter(run=run, node_id=node_id).update(status=task_status, attempts=1)
    run.refresh_from_db()
    return run


def add_attempt(task: TaskRun, number: int, status: str = "success", **fields: Any) -> TaskAttempt:
    started = timezone.now() - timedelta(seconds=2)
    TaskRun.objects.filter(pk=task.pk).update(attempts=number)
    task.attempts = number
    return TaskAttempt.objects.create(taskrun=task, number=number, status=status, started_at=started, **fields)


def add_lines(task: TaskRun, attempt: int, count: int, *, stream: str = LogLine.STDOUT) -> None:
    LogLine.objects.bulk_create(
        LogLine(run_id=task.run_id, taskrun=task, attempt=attempt, lineno=n, stream=stream, ts=1e9 + n,
                text=f"attempt {attempt} line {n}")
        for n in range(1, count + 1)
    )  # fmt: skip
