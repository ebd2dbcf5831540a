"""Run and run-list sockets through the real ASGI stack: who may connect, the snapshot first,
then events in sequence, and one channel-layer subscription per group for this process.

Each test is a plain function driving an async scenario with async_to_sync; the scenario's
loop plays the server's (dashboard.asgi registers it with the event publisher on connect).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client

from dashboard import consumers, events
from dashboard.asgi import application
from dashboard.events import RUNS_GROUP, run_group
from dashboard.hub import LocalHub
from tests.conftest import make_workflow, wait_until
from workflows import runner
from workflows.changes import commit_changes
from workflows.models import Run, TaskRun, Workflow

pytestmark = pytest.mark.django_db(transaction=True)

ETL = """name: etl
tasks:
  extract: {run: "echo extract"}
  load: {run: "echo load", needs: [extract]}
"""
TIMEOUT = 10  # seconds; generous: CI machines are loaded


@pytest.fixture
def hub(monkeypatch) -> LocalHub:
    """A hub of this test's own (the real one outlives each test's event loop), on an empty layer."""
    async_to_sync(get_channel_layer().flush)()  # groups a failed test may have left behind
    fresh = LocalHub()
    monkeypatch.setattr(consumers, "hub", fresh)
    monkeypatch.setattr(events, "hub", fresh)  # the publisher asks it who is watching
    return fresh


@pytest.fixture
def session(users) -> Callable[[Any], str]:
    """The session cookie value of a logged-in user (a role name or a User)."""

    def login(who: Any) -> str:
        client = Client()
        client.force_login(users[who] if isinstance(who, str) else who)
        return client.cookies["sessionid"].value

    return login


@pytest.fixture
def workflow(db) -> Workflow:
    return make_workflow(ETL)


@pytest.fixture
def run(workflow) -> Run:
    return runner.create_run(workflow, enqueue=False)


def socket(path: str, cookie: str | None = None, origin: str = "http://127.0.0.1") -> WebsocketCommunicator:
    headers = [(b"origin", origin.encode()), (b"host", b"127.0.0.1")]
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


def scenario(coroutine: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    return async_to_sync(coroutine)(*args)


db_call = database_sync_to_async


async def close_code(path: str, cookie: str | None = None) -> int | None:
    """Connect; the close code that follows the accept (None if a message came instead)."""
    communicator = socket(path, cookie)
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected, "refusals are sent after an accept, so the page can read the code"
    output = await communicator.receive_output(timeout=TIMEOUT)
    await communicator.disconnect()
    return output.get("code") if output["type"] == "websocket.close" else None


async def events_from(communicator: WebsocketCommunicator, count: int) -> list[dict[str, Any]]:
    """The next `count` events, however the hub batched them into frames."""
    events: list[dict[str, Any]] = []
    while len(events) < count:
        frame = await communicator.receive_json_from(timeout=TIMEOUT)
        assert frame["type"] == "events", frame
        events += frame["events"]
    assert len(events) == count, events
    return events


def task_pk(run: Run, node_id: str) -> int:
    return TaskRun.objects.get(run=run, node_id=node_id).pk


# ------------------------------------------------------------------ who may connect


def test_an_anonymous_socket_is_closed_with_4401(hub, run):
    assert scenario(close_code, f"/ws/runs/{run.pk}/") == 4401
    assert scenario(close_code, "/ws/runs/") == 4401
    assert hub.members == {}


def test_a_user_without_a_role_is_closed_with_4403(hub, run, session):
    cookie = session(User.objects.create_user("nobody", password="pw"))

    assert scenario(close_code, f"/ws/runs/{run.pk}/", cookie) == 4403
    assert scenario(close_code, "/ws/runs/", cookie) == 4403
    assert hub.members == {}


def test_an_unknown_run_is_closed_with_4404(hub, run, session):
    assert scenario(close_code, f"/ws/runs/{run.pk + 1000}/", session("viewer")) == 4404
    assert hub.members == {}


def test_a_socket_from_another_origin_is_refused_even_with_a_session(hub, run, session):
    cookie = session("viewer")

    async def connect() -> bool:
        communicator = socket(f"/ws/runs/{run.pk}/", cookie, origin="http://evil.example")
        connected, _ = await communicator.connect(timeout=TIMEOUT)
        await communicator.disconnect()
        return connected

    assert scenario(connect) is False
    assert hub.members == {}


# ------------------------------------------------------------------ snapshot, then events


def test_a_viewer_gets_a_snapshot_then_events_in_sequence(hub, run, session):
    cookie = session("viewer")
    extract = task_pk(run, "extract")

    async def watch() -> tuple[dict, list[dict]]:
        communicator = socket(f"/ws/runs/{run.pk}/", cookie)
        assert (await communicator.connect(timeout=TIMEOUT))[0]
        snapshot = await communicator.receive_json_from(timeout=TIMEOUT)
        await db_call(commit_changes)(run.pk, task_fields={extract: {"status": TaskRun.RUNNING}})
        await db_call(commit_changes)(
            run.pk, task_fields={extract: {"status": TaskRun.SUCCESS}}, run_fields={"status": Run.RUNNING}
        )
        events = await events_from(communicator, 3)
        assert await communicator.receive_nothing(timeout=0.1)
        await communicator.disconnect()
        return snapshot, events

    snapshot, events = scenario(watch)

    assert snapshot["type"] == "snapshot"
    assert snapshot["seq"] == 1 == Run.objects.get(pk=run.pk).last_seq - 3
    assert snapshot["run"]["id"] == run.pk and snapshot["run"]["status"] == Run.QUEUED
    assert [(t["node_id"], t["status"], t["seq"]) for t in snapshot["tasks"]] == [
        ("extract", "pending", 0),
        ("load", "pending", 0),
    ]
    assert [(e["kind"], e["seq"], e["status"]) for e in events] == [
        ("task", 2, "running"),
        ("task", 3, "success"),
        ("run", 4, "running"),
    ]
    assert all(e["run"] == run.pk for e in events)


def test_a_frame_sent_while_the_snapshot_is_built_waits_for_it():
    consumer = consumers.RunConsumer()
    sent: list[str] = []

    async def base_send(message: dict) -> None:
        sent.append(message["text"])

    consumer.base_send = base_send

    async def story() -> None:
        consumer._held = []  # what send_snapshot does before reading the database
        await consumer.send_frame('{"type":"events","n":1}')
        assert sent == []
        await consumer.send_after({"type": "snapshot", "seq": 7})
        await consumer.send_frame('{"type":"events","n":2}')

    scenario(story)

    assert [json.loads(text) for text in sent] == [
        {"type": "snapshot", "seq": 7},
        {"type": "events", "n": 1},
        {"type": "events", "n": 2},
    ]


def test_an_event_published_while_the_snapshot_is_read_arrives_after_it(hub, run, session, monkeypatch):
    cookie = session("viewer")
    group = run_group(run.pk)
    read_snapshot = consumers.run_snapshot

    def snapshot_then_a_change(run_id: int) -> dict[str, Any] | None:
        snapshot = read_snapshot(run_id)
        commit_changes(run_id, run_fields={"message": "changed meanwhile"})
        wait_until(
            lambda: any(member._held for member in list(hub.members.get(group, ()))),
            timeout=TIMEOUT,
            message="the event never reached the socket while its snapshot was being read",
        )
        return snapshot

    monkeypatch.setattr(consumers, "run_snapshot", snapshot_then_a_change)

    async def watch() -> tuple[dict, dict]:
        communicator = socket(f"/ws/runs/{run.pk}/", cookie)
        assert (await communicator.connect(timeout=TIMEOUT))[0]
        first = await communicator.receive_json_from(timeout=TIMEOUT)
        second = await communicator.receive_json_from(timeout=TIMEOUT)
        await communicator.disconnect()
        return first, second

    first, second = scenario(watch)

    assert (first["type"], first["seq"]) == ("snapshot", 1)
    assert second["type"] == "events"
    assert [(e["seq"], e["message"]) for e in second["events"]] == [(2, "changed meanwhile")]


def test_resync_sends_a_fresh_snapshot(hub, run, session):
    cookie = session("viewer")
    extract = task_pk(run, "extract")

    async def watch() -> tuple[dict, dict]:
        communicator = socket(f"/ws/runs/{run.pk}/", cookie)
        assert (await communicator.connect(timeout=TIMEOUT))[0]
        first = await communicator.receive_json_from(timeout=TIMEOUT)
        await db_call(commit_changes)(run.pk, task_fields={extract: {"status": TaskRun.RUNNING}})
        await events_from(communicator, 1)
        await communicator.send_json_to({"action": "resync"})
        again = await communicator.receive_json_from(timeout=TIMEOUT)
        await communicator.disconnect()
        return first, again

    first, again = scenario(watch)

    assert (first["type"], first["seq"]) == ("snapshot", 1)
    assert (again["type"], again["seq"]) == ("snapshot", 2)
    assert [(t["node_id"], t["status"], t["seq"]) for t in again["tasks"]] == [
        ("extract", "running", 2),
        ("load", "pending", 0),
    ]


def test_a_resync_after_the_run_was_deleted_closes_with_4404(hub, run, session):
    cookie = session("viewer")

    async def watch() -> int | None:
        communicator = socket(f"/ws/runs/{run.pk}/", cookie)
        assert (await communicator.connect(timeout=TIMEOUT))[0]
        await communicator.receive_json_from(timeout=TIMEOUT)
        await db_call(Run.objects.filter(pk=run.pk).delete)()
        await communicator.send_json_to({"action": "resync"})
        output = await communicator.receive_output(timeout=TIMEOUT)
        await communicator.disconnect()
        return output.get("code")

    assert scenario(watch) == 4404
    assert hub.members == {}


def test_a_run_socket_hears_only_its_own_run(hub, workflow, run, session):
    cookie = session("viewer")
    other = runner.create_run(workflow, enqueue=False)

    async def watch() -> list[dict]:
        communicator = socket(f"/ws/runs/{run.pk}/", cookie)
        assert (await communicator.connect(timeout=TIMEOUT))[0]
        await communicator.receive_json_from(timeout=TIMEOUT)
        await db_call(commit_changes)(other.pk, run_fields={"message": "not yours"})
        await db_call(commit_changes)(run.pk, run_fields={"message": "yours"})
        events = await events_from(communicator, 1)
        await communicator.disconnect()
        return events

    assert [(e["run"], e["message"]) for e in scenario(watch)] == [(run.pk, "yours")]


# ------------------------------------------------------------------ one subscription per process


@pytest.fixture
def subscriptions(monkeypatch) -> list[tuple[str, str, str]]:
    """Every group_add / group_discard this process makes on the channel layer, in order."""
    layer = get_channel_layer()
    calls: list[tuple[str, str, str]] = []
    for name in ("group_add", "group_discard"):
        real = getattr(layer, name)

        async def spy(group: str, channel: str, real=real, name=name) -> None:
            calls.append((name, group, channel))
            await real(group, channel)

        monkeypatch.setattr(layer, name, spy)
    return calls


def test_two_sockets_share_one_subscription_and_both_get_each_event(hub, run, session, subscriptions):
    cookies = session("viewer"), session("operator")
    group = run_group(run.pk)

    async def watch() -> dict[str, Any]:
        sockets = [socket(f"/ws/runs/{run.pk}/", cookie) for cookie in cookies]
        for communicator in sockets:
            assert (await communicator.connect(timeout=TIMEOUT))[0]
            assert (await communicator.receive_json_from(timeout=TIMEOUT))["type"] == "snapshot"
        seen: dict[str, Any] = {"members": len(hub.members[group]), "joined": list(subscriptions)}
        await db_call(commit_changes)(run.pk, run_fields={"message": "for both"})
        seen["events"] = [await events_from(communicator, 1) for communicator in sockets]
        await sockets[0].disconnect()
        seen["after_one_left"] = (len(hub.members[group]), list(subscriptions))
        await sockets[1].disconnect()
        return seen

    seen = scenario(watch)

    assert seen["members"] == 2
    assert seen["joined"] == [("group_add", group, hub.channel)]
    first, second = seen["events"]
    assert first == second and [(e["seq"], e["message"]) for e in first] == [(2, "for both")]
    assert seen["after_one_left"] == (1, seen["joined"])
    assert group not in hub.members
    assert subscriptions == [("group_add", group, hub.channel), ("group_discard", group, hub.channel)]


# ------------------------------------------------------------------ the run list


def test_the_run_list_socket_hears_status_changes_of_every_run(hub, workflow, session):
    cookie = session("viewer")
    other = make_workflow("name: other\ntasks:\n  a: {run: 'true'}\n")

    async def watch() -> tuple[dict, list[dict], list[int]]:
        communicator = socket("/ws/runs/", cookie)
        assert (await communicator.connect(timeout=TIMEOUT))[0]
        first = await communicator.receive_json_from(timeout=TIMEOUT)
        made = [
            await db_call(runner.create_run)(workflow, enqueue=False),
            await db_call(runner.create_run)(other, enqueue=False),
        ]
        # A task change alone concerns the run page, not the list.
        task = await db_call(lambda: TaskRun.objects.filter(run=made[0]).first().pk)()
        await db_call(commit_changes)(made[0].pk, task_fields={task: {"status": TaskRun.RUNNING}})
        await db_call(commit_changes)(made[1].pk, run_fields={"status": Run.RUNNING}, to_run_list=True)
        events = await events_from(communicator, 3)
        assert await communicator.receive_nothing(timeout=0.1)
        await communicator.disconnect()
        return first, events, [r.pk for r in made]

    first, events, (a, b) = scenario(watch)

    assert first == {"type": "snapshot", "runs": []}  # nothing shown, no runs yet
    assert [(e["kind"], e["id"], e["status"], e["seq"]) for e in events] == [
        ("run", a, "queued", 1),
        ("run", b, "queued", 1),
        ("run", b, "running", 2),
    ]
    assert RUNS_GROUP not in hub.members


def test_the_run_list_hears_a_run_that_no_run_page_watches_start_and_end(hub, workflow, session):
    """With no page of the run open its writer builds no task events, but the run list still gets
    each change of the run row, from queued to its end, in sequence."""
    cookie = session("viewer")

    async def watch() -> tuple[list[dict], int]:
        communicator = socket("/ws/runs/", cookie)
        assert (await communicator.connect(timeout=TIMEOUT))[0]
        await communicator.receive_json_from(timeout=TIMEOUT)  # the snapshot
        run = await db_call(runner.create_run)(workflow, enqueue=False)
        assert await db_call(runner.execute)(run.pk) == Run.SUCCESS
        events = await events_from(communicator, 3)
        assert run_group(run.pk) not in hub.members
        assert await communicator.receive_nothing(timeout=0.1)
        await communicator.disconnect()
        return events, run.pk

    events, pk = scenario(watch)
    assert [(e["kind"], e["id"], e["status"]) for e in events] == [
        ("run", pk, "queued"), ("run", pk, "running"), ("run", pk, "success"),
    ]  # fmt: skip
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and seqs[0] == 1
    assert seqs[-1] == Run.objects.get(pk=pk).last_seq
