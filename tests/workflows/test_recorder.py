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
