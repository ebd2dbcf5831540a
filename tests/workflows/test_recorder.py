"""The run's writer when a write fails: close() raises what failed, and never hangs."""

from __future__ import annotations

import threading

import pytest
from django.db import DatabaseError

from tests.conftest import make_workflow, wait_until
from workflows import runner
from workflows.recorder import RunRecorder

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_writer_whose_last_batch_fails_still_closes_and_says_why():
    """close()'s end marker can arrive in the very batch that fails: the writer must not then
    wait for another marker (close() would hang for ever, and the run with it)."""
    run = runner.create_run(make_workflow("name: w\ntasks:\n  a: {run: 'true'}\n"), enqueue=False)
    recorder = RunRecorder(run)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:  # holds the first batch until the rest is queued
        holding.set()
        release.wait(10)

    recorder.emit(hold)
    assert holding.wait(10)

    def fail() -> None:
        raise DatabaseError("disk full")

    recorder.emit({"kind": "test"}, store=fail)
    raised: list[BaseException] = []

    def close() -> None:
        try:
            recorder.close()
        except BaseException as exc:  # noqa: BLE001 (what close() raises is the point)
            raised.append(exc)

    closer = threading.Thread(target=close)
    closer.start()
    wait_until(lambda: recorder._queue.qsize() == 2, message="the failing store and the end marker are queued")
    release.set()
    closer.join(timeout=30)
    assert not closer.is_alive(), "close() hung"
    assert [str(exc) for exc in raised] == ["disk full"]


def test_close_does_not_wait_out_the_writers_gathering(monkeypatch):
    """A busy run's writer gathers events for a moment before it writes them; when the run ends,
    close() cuts that short, so the run's last records (its final status among them) are stored
    at once rather than after the gathering window."""
    monkeypatch.setattr("workflows.recorder.BUSY_WINDOW", 600.0)  # every batch after the first gathers...
    monkeypatch.setattr("workflows.recorder.COALESCE", 600.0)  # ...for ten minutes
    monkeypatch.setattr("workflows.recorder.MAX_COALESCE", 600.0)
    run = runner.create_run(make_workflow("name: w\ntasks:\n  a: {run: 'true'}\n"), enqueue=False)
    recorder = RunRecorder(run)
    stored: list[str] = []
    recorder.emit({"kind": "test"}, store=lambda: stored.append("first"))
    wait_until(lambda: stored == ["first"], message="the first batch is written at once")
    recorder.emit({"kind": "test"}, store=lambda: stored.append("last"))
    wait_until(lambda: recorder._queue.qsize() == 0, message="the writer took the second event and gathers")
    closer = threading.Thread(target=recorder.close)
    closer.start()
    closer.join(timeout=30)
    assert not closer.is_alive(), "close() waited for the gathering window"
    assert stored == ["first", "last"]


def test_once_nothing_is_left_to_start_the_writer_stops_gathering(monkeypatch):
    """While a run floods its writer with events, the writer gathers them for a while to write
    many in one transaction; once the executor says every task has started or ended, each event
    is written at once, so the run's last records do not wait behind a long gathering."""
    monkeypatch.setattr("workflows.recorder.BUSY_WINDOW", 600.0)  # every batch after the first...
    monkeypatch.setattr("workflows.recorder.FLOODED", 600.0)  # ...counts as flooded...
    monkeypatch.setattr("workflows.recorder.FLOOD_FACTOR", 1e9)  # ...and gathers for ten minutes
    monkeypatch.setattr("workflows.recorder.MAX_COALESCE", 600.0)
    run = runner.create_run(make_workflow("name: w\ntasks:\n  a: {run: 'true'}\n"), enqueue=False)
    recorder = RunRecorder(run)
    stored: list[str] = []
    try:
        recorder.emit({"kind": "test"}, store=lambda: stored.append("first"))
        wait_until(lambda: stored == ["first"], message="the first batch is written at once")
        recorder.ending()
        recorder.emit({"kind": "test"}, store=lambda: stored.append("second"))
        wait_until(lambda: stored == ["first", "second"], timeout=20, message="the next event is written at once")
    finally:
        recorder.close()


def test_a_task_flooding_the_writer_with_lines_keeps_the_long_gathering_at_the_runs_end():
    """Once the run is ending, only small batches skip the flood window: a last task printing
    lines as fast as it can still has them written in big batches (small ones cost more CPU)."""
    from workflows import recorder as module

    run = runner.create_run(make_workflow("name: w\ntasks:\n  a: {run: 'true'}\n"), enqueue=False)
    recorder = RunRecorder(run)
    try:
        flooded = min(module.MAX_COALESCE, max(module.COALESCE, module.FLOOD_FACTOR * 0.006))
        assert flooded > module.COALESCE
        assert recorder._gather_for(1.0, 0.006, 10) is None  # quiet: written at once
        assert recorder._gather_for(0.001, 0.006, 10) == flooded
        recorder.ending()
        assert recorder._gather_for(0.001, 0.006, 10) == module.COALESCE
        assert recorder._gather_for(0.001, 0.006, module.ENDING_BATCH) == flooded
    finally:
        recorder.close()


def test_a_tap_gets_every_attempts_start_and_end_as_they_are_reported():
    """What an extension that follows attempts reads instead of a hook of its own: each start and
    end, in the order reported, as the writer gets them; and a tap made later sees only later ones."""
    from workflows.engine import executor as ex
    from workflows.engine.handle import ProcessResult

    run = runner.create_run(make_workflow("name: w\ntasks:\n  a: {run: 'true'}\n"), enqueue=False)
    recorder = RunRecorder(run)
    first = recorder.tap_attempts()
    recorder.attempt_started("a", 1, command="true", ready_at=1.0, started_at=2.0, pid=42)
    later = recorder.tap_attempts()
    info = ex.AttemptInfo("a", 1, ProcessResult(exit_code=0, started_at=2.0, ended_at=3.0), "success", {}, [], None)
    recorder.attempt_finished(info)
    recorder.node_state("a", ex.SUCCESS, attempt=1, outcome=ex.NodeOutcome(ex.SUCCESS, 0, {}, 1))
    recorder.close()
    assert list(first) == [("start", "a", 1, "true", 1.0, 2.0, 42), ("finish", info)]
    assert list(later) == [("finish", info)]
