"""The span outboxes of all runs in a process share one ticker thread, which sends what waited
in memory, keeps going when one run's sending fails, and ends when no run is left (for a while:
see test_the_ticker_waits_a_while_for_the_next_run)."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from tests.engine.conftest import wait_until
from tracing import outbox as outbox_module
from tracing.otel.spans import SpanRecord, new_span_id, new_trace_id
from tracing.outbox import SpanOutbox


class Recorder:
    def __init__(self, fail: bool = False):
        self.events: list[dict[str, Any]] = []
        self.fail = fail

    def emit(self, event: dict[str, Any], store: Any = None) -> None:
        if self.fail:
            raise RuntimeError("this run's writer is broken")
        self.events.append(event)


def tickers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "span-outboxes"]


def outbox(recorder: Recorder, run_pk: int) -> SpanOutbox:
    return SpanOutbox(recorder, run_pk, run_pk, keep_rows=True, export_live=False, telemetry=None)


def span() -> SpanRecord:
    return SpanRecord(new_trace_id(), new_span_id(), "task", 1)


@pytest.fixture(autouse=True)
def no_ticker_left(monkeypatch) -> None:
    """The ticker waits IDLE_FOR (seconds) for another run before it ends: not in these tests."""
    monkeypatch.setattr(outbox_module, "IDLE_FOR", 0.0)
    wait_until(lambda: not tickers(), message="a ticker from an earlier test is still running")
    yield
    wait_until(lambda: not tickers(), message="the ticker outlived its runs")


class Messages(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_one_thread_sends_for_every_run_and_ends_with_them() -> None:
    logged = Messages()
    outbox_module.log.addHandler(logged)
    broken, first, second = Recorder(fail=True), Recorder(), Recorder()
    boxes = [outbox(broken, 1), outbox(first, 2), outbox(second, 3)]
    assert len(tickers()) == 1
    for box in boxes:
        box.last_emit = float("inf")  # as if an event just went: the next waits for the ticker
    for box in boxes:
        box.changes.append(span())
        box.last_emit = 0.0
    # Each run's span event is queued by the ticker, the broken run's failure notwithstanding.
    wait_until(lambda: first.events and second.events)
    assert [e["kind"] for e in first.events + second.events] == ["span", "span"]
    wait_until(lambda: "tracing could not send the spans of run 1" in logged.messages)
    outbox_module.log.removeHandler(logged)
    assert len(tickers()) == 1
    for box in boxes:
        box.stop()
    # and a run that starts after the ticker ended gets a new one
    wait_until(lambda: not tickers())
    late = outbox(Recorder(), 4)
    assert len(tickers()) == 1 and outbox_module._ticker.outboxes == {late}
    late.stop()


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_tracing_fails_at_its_end_still_leaves_the_ticker(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.tracing.conftest import run_now

    emit = SpanOutbox.emit

    def failing_at_the_end(self: SpanOutbox, record: SpanRecord) -> None:
        if not record.parent_id and record.end_us is not None:  # the root span, ending
            raise RuntimeError("cannot send the root span")
        emit(self, record)

    monkeypatch.setattr(SpanOutbox, "emit", failing_at_the_end)
    run = run_now("name: ends\ntasks:\n  a: {run: 'true'}\n")
    assert run.status == "success"  # tracing's failure is logged, the run is not touched
    assert outbox_module._ticker.outboxes == set()


def test_the_ticker_waits_a_while_for_the_next_run(monkeypatch) -> None:
    """Starting a thread is ~0.5 ms of a run's start: a run soon after the last one ended finds
    the ticker still going, and it ends once idle for IDLE_FOR."""
    monkeypatch.setattr(outbox_module, "IDLE_FOR", 60.0)
    ticker = outbox_module._ticker
    first = outbox(Recorder(), 1)
    (thread,) = tickers()
    first.stop()
    wait_until(lambda: ticker.idle_since is not None, message="the ticker never saw that no run was left")
    recorder = Recorder()
    second = outbox(recorder, 2)
    assert tickers() == [thread] and ticker.thread is thread  # the same thread, not a new one
    second.changes.append(span())
    wait_until(lambda: recorder.events, message="the waiting ticker did not send the next run's spans")
    assert ticker.idle_since is None
    second.stop()
    monkeypatch.setattr(outbox_module, "IDLE_FOR", 0.0)  # the fixture then waits for it to end
