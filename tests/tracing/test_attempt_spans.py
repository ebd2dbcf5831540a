"""An attempt's span is made from the attempt's own row when it is read (tracing.attempt_spans):
the same span, to the microsecond, as the one an open run page gets live; stored at the first
read after the run ended; made in memory while the run goes; and found by every reader."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from dashboard import events as dashboard_events
from tests.conftest import make_workflow, wait_until
from tests.engine.conftest import plan_of
from tests.tracing.conftest import run_now
from tracing import attempt_spans, task_spans
from tracing.models import Span, Trace
from tracing.otel.spans import new_span_id, new_trace_id
from workflows import recorder as recorder_module
from workflows import runner
from workflows.models import Run

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MIXED = """
name: mixed
tasks:
  ok: {run: "echo hi"}
  flaky: {run: "exit 3", retry: {max_attempts: 2, initial_delay: 0.01}}
  slow: {run: "sleep 5", timeout: 0.3}
  legs: {run: "true", matrix: {size: [s, m]}}
"""


@pytest.fixture
def page_open(monkeypatch) -> list[dict[str, Any]]:
    """As if the run's page were open: the recorder sends its events; here they are kept."""
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(dashboard_events, "_watched", lambda group: True)
    monkeypatch.setattr(recorder_module, "publish_events", lambda run_id, events, **kw: sent.extend(events))
    return sent


def live_spans(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each span as the page last got it."""
    spans: dict[str, dict[str, Any]] = {}
    for event in sorted((e for e in events if e.get("kind") == "span"), key=lambda e: e["seq"]):
        assert "later" not in event  # a function never goes out
        spans.update((span["span_id"], span) for span in event["spans"])
    return spans


def test_the_span_made_from_an_attempts_row_is_the_one_the_page_got_live(page_open):
    run = run_now(MIXED)
    assert run.status == "failed"
    live = {sid: span for sid, span in live_spans(page_open).items() if span["attempt"] is not None}
    trace = Trace.objects.get(run=run)
    made = {span["span_id"]: span for span in attempt_spans.attempt_rows(trace)}
    # ok, flaky twice, slow, two legs: every attempt, live and made alike, field for field
    assert len(made) == 6 and set(live) == set(made)
    for span_id, span in made.items():
        assert span == live[span_id], span["name"]
    by_name = {(s["name"], s["attempt"]): s for s in made.values()}
    assert by_name[("slow", 1)]["status_message"] == "timed out after 0.3s"
    assert [e["name"] for e in by_name[("flaky", 1)]["events"]] == ["process started", "retry scheduled"]
    assert by_name[("legs[size=m]", 1)]["attributes"]["runner.matrix.size"] == "m"
    # Nothing of them was stored as the run went; the trace counted them all the same.
    assert not Span.objects.filter(trace=trace, attempt__isnull=False).exists()
    assert (trace.span_count, trace.error_count) == (7, 4)  # the root (an error) and six attempts, three failed


def test_an_attempts_span_id_is_the_one_in_its_traceparent():
    run = run_now("name: ids\ntasks:\n  a: {run: 'printenv TRACEPARENT'}\n")
    trace = Trace.objects.get(run=run)
    (span,) = attempt_spans.attempt_rows(trace)
    (line,) = run.log_lines.values_list("text", flat=True)
    assert line == f"00-{trace.trace_id}-{span['span_id']}-01"
    assert span["span_id"] == task_spans.attempt_span_id(trace.trace_id, "a", 1)


def test_a_running_runs_attempt_spans_are_made_in_memory_and_stored_once_it_ended(users):
    run = runner.create_run(make_workflow("name: long\ntasks:\n  a: {run: 'sleep 30'}\n"), enqueue=False)
    worker = threading.Thread(target=runner.execute, args=(run.pk,))
    worker.start()
    try:
        wait_until(lambda: run.tasks.filter(status="running").exists(), message="a never started")
        trace = Trace.objects.get(run=run)
        shown = {span["name"]: span for span in attempt_spans.trace_spans(trace)}
        assert shown["a"]["status"] == "running" and shown["a"]["attempt"] == 1
        # The page's read wrote nothing.
        assert not Span.objects.filter(trace=trace, attempt__isnull=False).exists()
        # A query over span rows stores them as they are now...
        api = APIClient()
        api.force_authenticate(users["viewer"])
        listed = api.get("/api/tracing/spans/", {"trace": trace.trace_id}).json()["results"]
        assert {s["name"]: s["status"] for s in listed}["a"] == "running"
        assert Trace.objects.get(pk=trace.pk).attempt_spans == Trace.PENDING
    finally:
        runner.request_cancel(Run.objects.get(pk=run.pk))
        worker.join(30)
    # ...and again, for good, once the run has ended.
    listed = api.get("/api/tracing/spans/", {"trace": trace.trace_id}).json()["results"]
    a = {s["name"]: s for s in listed}["a"]
    assert a["status"] == "unset" and [e["name"] for e in a["events"]] == ["process started", "cancelled"]
    assert Trace.objects.get(pk=trace.pk).attempt_spans == Trace.MADE
    assert Span.objects.filter(trace=trace, attempt__isnull=False).count() == 1


def test_the_search_finds_attempt_attributes_of_runs_nobody_read(users):
    first = run_now("name: one\ntasks:\n  extract: {run: 'exit 4'}\n")
    run_now("name: two\ntasks:\n  extract: {run: 'true'}\n")
    assert Trace.objects.filter(attempt_spans=Trace.PENDING).count() == 2
    api = APIClient()
    api.force_authenticate(users["viewer"])
    found = api.get("/api/tracing/traces/", {"attribute": "process.exit_code=4"}).json()["results"]
    assert [t["run"] for t in found] == [first.pk]
    spans = api.get("/api/tracing/spans/", {"attribute": "runner.task=extract"}).json()["results"]
    assert len(spans) == 2 and not Trace.objects.filter(attempt_spans=Trace.PENDING).exists()


def test_a_dropped_trace_makes_no_attempt_spans(settings):
    settings.TRACING = {"sampler": "always_off", "store": "sampled"}
    run = run_now("name: off\ntasks:\n  a: {run: 'true'}\n")
    trace = Trace.objects.get(run=run)
    assert trace.attempt_spans == Trace.NONE and attempt_spans.attempt_rows(trace) == []
    assert attempt_spans.trace_spans(trace) == [] and trace.span_count == 0


def test_an_attempt_lost_with_its_worker_is_an_error_span():
    """The reaper marks an attempt whose worker died "lost", with no figures."""
    plan = plan_of("name: l\ntasks:\n  a: {run: 'true'}\n")
    spans = task_spans.RunTaskSpans(plan, new_trace_id(), new_span_id(), run_pk=1, service="s",
                                    recorder=attempt_spans._Stored)  # fmt: skip
    started = datetime(2026, 11, 27, 1, 2, 3, 456789, tzinfo=UTC)
    row = {
        "number": 1, "status": "lost", "command": "true", "ready_at": None, "started_at": started,
        "finished_at": started.replace(second=9), "exit_code": None, "signal": None, "wall_s": None,
        "cpu_user_s": None, "cpu_sys_s": None, "peak_rss_bytes": None,
        "error": "the worker running this attempt died", "retry_delay": 2.0, "pid": 99,
    }  # fmt: skip
    made = task_spans.AttemptSpan.from_stored(spans, "a", row).row(5, 1)
    assert (made["status"], made["status_message"]) == ("error", "the worker running this attempt died")
    assert (made["start_us"], made["duration_us"]) == (int(started.timestamp()) * 1_000_000 + 456789, 6_000_000)
    assert "runner.wall_s" not in made["attributes"] and made["attributes"]["runner.status"] == "lost"
    assert [e["name"] for e in made["events"]] == ["process started", "retry scheduled"]


@pytest.mark.parametrize("seconds", [1764205323.4567895, 1764205323.0000005, 1764205323.999999, 86400.5])
def test_microseconds_are_kept_as_a_stored_datetime_keeps_them(seconds):
    stored = datetime.fromtimestamp(seconds, tz=UTC)
    assert task_spans.stored_us(seconds) == task_spans.stored_us(stored.timestamp())
    assert task_spans.stored_us(seconds) % 1_000_000 == stored.microsecond
