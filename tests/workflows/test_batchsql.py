"""workflows.batchsql.HotSql.insert_rows: what it stores is what the ORM would, defaults included."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from costs.models import CostRecord
from tests.costs.conftest import queued_run
from workflows.batchsql import HotSql
from workflows.models import TaskRun

pytestmark = pytest.mark.django_db


def test_rows_get_their_models_defaults() -> None:
    run = queued_run("name: sql\ntasks:\n  a: {run: 'true'}\n")
    with connection.cursor() as cursor:
        HotSql(connection).insert_rows(cursor, TaskRun, [{"run_id": run.pk, "node_id": "b", "task_id": "b"}])
    ours = TaskRun.objects.get(run=run, node_id="b")
    orm = TaskRun.objects.create(run=run, node_id="c", task_id="c")
    for field in ("status", "attempts", "outputs", "leg", "reason", "reused", "seq", "exit_code", "started_at"):
        assert getattr(ours, field) == getattr(orm, field), field
    assert ours.outputs == {} and ours.status == TaskRun.PENDING


def test_a_callable_default_is_asked_for_each_insert_not_once() -> None:
    """CostRecord.created_at defaults to timezone.now: rows inserted after the statement was first
    worked out must not all get the moment it was worked out."""
    run = queued_run("name: sqlnow\ntasks:\n  a: {run: 'true'}\n")
    task = run.tasks.get()
    row = {
        "run_id": run.pk, "workflow_id": run.workflow_id, "taskrun_id": task.pk, "node_id": "a", "task_id": "a",
        "attempt_number": 1, "day": timezone.now().date(), "model": "allocation", "provider": "aws",
        "region": "r", "instance_type": "t", "amount": 1.0, "status": "priced",
    }  # fmt: skip
    sql = HotSql(connection)
    with connection.cursor() as cursor:
        sql.insert_rows(cursor, CostRecord, [row])  # the plan is made (and kept) here
        before = timezone.now()
        sql.insert_rows(cursor, CostRecord, [{**row, "attempt_number": 2}])
    later = CostRecord.objects.get(run=run, attempt_number=2)
    assert later.created_at >= before
    assert (later.tags, later.lines, later.rates) == ({}, [], {})  # class defaults: empty values
