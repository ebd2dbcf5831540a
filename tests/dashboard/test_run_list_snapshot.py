"""The run list's snapshot: on every (re)connect, the current state of the runs the page shows
and the newest runs its filters match, each with the seq it is current to; keyset reads only."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboard import consumers
from dashboard.consumers import run_list_snapshot
from dashboard.events import RUNS_GROUP
from tests.conftest import make_workflow, wait_until
from workflows import runner
from workflows.changes import commit_changes
from workflows.models import Run

from . import test_consumers
from .test_consumers import TIMEOUT, events_from, socket

hub, session = test_consumers.hub, test_consumers.session  # the socket tests' fixtures

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def etl(db):
    return make_workflow("name: etl\ntasks:\n  a: {run: 'true'}\n")


@pytest.fixture
def other(db):
    return make_workflow("name: other\ntasks:\n  a: {run: 'true'}\n")


def snapshot_over_socket(path: str, cookie: str) -> dict[str, Any]:
    async def connect() -> dict[str, Any]:
        communicator = socket(path, cookie)
        assert (await communicator.connect(timeout=TIMEOUT))[0]
        first = await communicator.receive_json_from(timeout=TIMEOUT)
        await communicator.disconnect()
        return first

    return async_to_sync(connect)()


def by_id(snapshot: dict[str, Any]) -> dict[int, dict[str, Any]]:
    assert snapshot["type"] == "snapshot"
    return {run["id"]: run for run in snapshot["runs"]}


def test_a_reconnecting_page_gets_the_current_state_of_the_runs_it_shows(hub, etl, session):
    shown = runner.create_run(etl, enqueue=False)
    commit_changes(shown.pk, run_fields={"status": Run.SUCCESS, "message": "done while you were away"})

    runs = by_id(snapshot_over_socket(f"/ws/runs/?runs={shown.pk}", session("viewer")))

    row = runs[shown.pk]
    assert (row["kind"], row["status"], row["message"]) == ("run", "success", "done while you were away")
    assert row["seq"] == Run.objects.get(pk=shown.pk).last_seq
    assert (row["workflow"], row["workflow_name"], row["number"]) == (etl.pk, "etl", shown.number)
    assert row["created_at"] == shown.created_at.isoformat()


def test_runs_started_while_away_come_with_it_filtered_as_the_page_is(hub, etl, other, session):
    runner.create_run(etl, enqueue=False)
    running = runner.create_run(other, enqueue=False)
    commit_changes(running.pk, run_fields={"status": Run.RUNNING})
    queued = runner.create_run(other, enqueue=False)
    cookie = session("viewer")

    everything = by_id(snapshot_over_socket("/ws/runs/", cookie))
    by_workflow = by_id(snapshot_over_socket(f"/ws/runs/?workflow={other.pk}", cookie))
    by_name_and_status = by_id(snapshot_over_socket("/ws/runs/?workflow=other&status=running", cookie))

    assert len(everything) == 3
    assert set(by_workflow) == {running.pk, queued.pk}
    assert set(by_name_and_status) == {running.pk}


def test_a_shown_run_older_than_the_newest_page_is_refreshed_too(hub, etl, session, monkeypatch):
    monkeypatch.setattr(consumers, "NEWEST_RUNS", 1)
    old, _middle, new = (runner.create_run(etl, enqueue=False) for _ in range(3))
    commit_changes(old.pk, run_fields={"status": Run.FAILED})

    runs = by_id(snapshot_over_socket(f"/ws/runs/?runs={old.pk}", session("viewer")))

    assert set(runs) == {old.pk, new.pk}
    assert runs[old.pk]["status"] == "failed"


def test_junk_in_the_query_string_reads_as_nothing(hub, etl, session):
    run = runner.create_run(etl, enqueue=False)
    junk = f"runs=x,-1,{run.pk},99999999999999999999999,{run.pk}%00&status=nope&workflow=%E2%9C%93"

    assert snapshot_over_socket(f"/ws/runs/?{junk}", session("viewer")) == {
        "type": "snapshot",
        "runs": [by_id(run_list_snapshot({"runs": [str(run.pk)]}))[run.pk]],
    }


def test_the_snapshot_reads_by_key_and_never_counts(etl):
    runs = [runner.create_run(etl, enqueue=False) for _ in range(3)]
    ids = ",".join(str(run.pk) for run in runs)

    with CaptureQueriesContext(connection) as queries:
        run_list_snapshot({"runs": [ids], "workflow": ["etl"], "status": ["queued"]})

    sql = [q["sql"].upper() for q in queries.captured_queries]
    assert len(sql) == 3  # the workflow's name, the newest page, the shown rows
    assert not any("COUNT(" in q for q in sql)
    assert "LIMIT 50" in sql[1] and "ORDER BY" in sql[1]


def test_a_change_made_while_the_snapshot_is_read_arrives_after_it(hub, etl, session, monkeypatch):
    run = runner.create_run(etl, enqueue=False)
    cookie = session("viewer")
    read_snapshot = consumers.run_list_snapshot

    def snapshot_then_a_change(query: dict[str, list[str]]) -> dict[str, Any]:
        snapshot = read_snapshot(query)
        commit_changes(run.pk, run_fields={"status": Run.RUNNING}, to_run_list=True)
        wait_until(
            lambda: any(member._held for member in list(hub.members.get(RUNS_GROUP, ()))),
            timeout=TIMEOUT,
            message="the event never reached the socket while its snapshot was being read",
        )
        return snapshot

    monkeypatch.setattr(consumers, "run_list_snapshot", snapshot_then_a_change)

    async def watch() -> tuple[dict, list[dict]]:
        communicator = socket(f"/ws/runs/?runs={run.pk}", cookie)
        assert (await communicator.connect(timeout=TIMEOUT))[0]
        first = await communicator.receive_json_from(timeout=TIMEOUT)
        events = await events_from(communicator, 1)
        await communicator.disconnect()
        return first, events

    first, events = async_to_sync(watch)()

    assert [(r["id"], r["status"], r["seq"]) for r in first["runs"]] == [(run.pk, "queued", 1)]
    assert [(e["id"], e["status"], e["seq"]) for e in events] == [(run.pk, "running", 2)]


def test_a_list_socket_from_another_origin_is_refused(hub, etl, session):
    cookie = session("viewer")

    async def connect() -> bool:
        communicator = socket("/ws/runs/?runs=1", cookie, origin="http://evil.example")
        connected, _ = await communicator.connect(timeout=TIMEOUT)
        await communicator.disconnect()
        return connected

    assert async_to_sync(connect)() is False
    assert hub.members == {}
