"""workflows.batchsql.HotSql: what insert_rows stores is what the ORM would, defaults included;
what select_rows reads is what the ORM's values() gives."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
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


def test_select_rows_reads_what_values_gives_in_the_same_order() -> None:
    """Every converted kind of column (JSON objects empty and not, JSON null, datetimes set and
    not, booleans), in the model's ordering (position, not id)."""
    run = queued_run("name: sel\ntasks:\n  a: {run: 'true'}\n  b: {run: 'true', needs: [a]}\n  c: {run: 'true'}\n")
    now = timezone.now()
    TaskRun.objects.filter(run=run, node_id="b").update(
        outputs={"rows": "3", "note": ""}, leg={"format": "csv", "n": 2}, reused=True, started_at=now,
        finished_at=now, wall_s=1.25, exit_code=0, position=0,
    )  # fmt: skip
    TaskRun.objects.filter(run=run, node_id="a").update(position=5, outputs=[])
    queued_run("name: other\ntasks:\n  x: {run: 'true'}\n")  # another run's row is not read
    with connection.cursor() as cursor:
        ours = HotSql(connection).select_rows(cursor, TaskRun, "run", run.pk)
    orm = list(TaskRun.objects.filter(run_id=run.pk).values())
    assert ours == orm
    assert [row["node_id"] for row in ours] == ["b", "c", "a"]
    b = ours[0]
    assert (b["outputs"], b["leg"], b["reused"], b["started_at"]) == (
        {"rows": "3", "note": ""},
        {"format": "csv", "n": 2},
        True,
        now,
    )
    assert ours[1]["outputs"] == {} and ours[1]["leg"] is None and ours[1]["reused"] is False
    assert ours[2]["outputs"] == []


def test_execute_gives_djangos_errors_and_shows_to_query_watchers() -> None:
    """HotSql.execute skips Django's placeholder regex on SQLite, but not its error translation,
    and a query counter (an execute wrapper) still sees every statement."""
    from django.db import IntegrityError
    from django.test.utils import CaptureQueriesContext

    run = queued_run("name: ex\ntasks:\n  a: {run: 'true'}\n")
    sql = HotSql(connection)
    row = {"run_id": run.pk, "node_id": "a", "task_id": "a"}  # "a" is there already
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        sql.insert_rows(cursor, TaskRun, [row])
    with CaptureQueriesContext(connection) as seen, connection.cursor() as cursor:
        sql.insert_rows(cursor, TaskRun, [{**row, "node_id": "b"}, {**row, "node_id": "c"}])
        rows = sql.select_rows(cursor, TaskRun, "run", run.pk)
    assert [r["node_id"] for r in rows] == ["a", "b", "c"]
    assert len(seen) == 2 and seen[0]["sql"].startswith("INSERT INTO")


def test_json_columns_read_back_as_json_dumps_would_have_written_them() -> None:
    """HotSql writes JSON columns with orjson: every kind of value reads back (through the ORM,
    and through SQLite's JSON functions in a key lookup) as it would from json.dumps's text."""
    import json

    from costs.models import CostDay
    from workflows.batchsql import json_text

    values = [
        {"ünï": "cödé ✓", "nested": {"list": [1, 2.5, None, True, "x"]}, "empty": {}},
        {1: "int key", "big": 2**70},  # an int key, as json.dumps writes it; an int orjson refuses
        [0.1, 1e-12, 123456789.123, -0.0],
        "just text",
    ]
    for value in values:
        assert json.loads(json_text(value)) == json.loads(json.dumps(value))
    run = queued_run("name: js\ntasks:\n  a: {run: 'true'}\n")
    with connection.cursor() as cursor:
        HotSql(connection).insert_rows(
            cursor, CostDay, [{"workflow_id": run.workflow_id, "day": timezone.now().date(), "tags_key": "k",
                               "tags": {"team": "données ✓"}}],
        )  # fmt: skip
    assert CostDay.objects.filter(tags__team="données ✓").count() == 1


def test_datetimes_are_stored_as_djangos_sqlite_backend_stores_them() -> None:
    """sqlite_datetime keeps each second's text: the same text as Django's SQLite adapter makes
    (naive UTC, then str), with and without microseconds, in other time zones, before 1970 and
    across many seconds."""
    from datetime import UTC, datetime, timedelta
    from datetime import timezone as tz

    from workflows.batchsql import sqlite_datetime

    start = datetime(2026, 11, 26, 23, 59, 58, 999_999, tzinfo=UTC)
    values = [start + timedelta(microseconds=step * 250_001) for step in range(20)]
    values += [
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 1, 1, 5, 30, 0, 7, tzinfo=tz(timedelta(hours=5, minutes=30))),
        datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC),
        datetime(1970, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC),
    ]
    for value in values + values:  # the second time from the kept seconds
        assert sqlite_datetime(value) == str(timezone.make_naive(value, UTC)), value
