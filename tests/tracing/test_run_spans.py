"""A run's trace: a root span, one span per task attempt under it, with their attributes,
events and status, stored in the database (an attempt's made from its row when first read) and
summed up on the trace."""

from __future__ import annotations

import threading

import pytest

from tests.tracing.conftest import run_now
from tracing.attempt_spans import sync
from tracing.models import Span, Trace

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def spans_of(run) -> dict[str, list[Span]]:
    """The run's stored spans, once read as every reader does (attempt spans are stored then)."""
    sync(Trace.objects.get(run=run))
    spans: dict[str, list[Span]] = {}
    for span in Span.objects.filter(trace__run=run).order_by("start_us"):
        spans.setdefault(span.name, []).append(span)
    return spans


def test_every_attempt_is_a_span_under_the_runs_root_span():
    run = run_now("name: etl\ntasks:\n  extract: {run: 'echo rows'}\n  load: {run: 'true', needs: [extract]}\n")
    trace = Trace.objects.get(run=run)
    spans = spans_of(run)
    root = spans["run etl #1"][0]
    assert root.span_id == trace.root_span_id and root.parent_id == "" and root.status == "ok"
    assert [s.parent_id for s in spans["extract"] + spans["load"]] == [root.span_id, root.span_id]
    assert spans["load"][0].start_us >= spans["extract"][0].start_us + spans["extract"][0].duration_us
    assert trace.status == "success" and trace.span_count == 3 and trace.duration_s > 0


def test_an_attempt_span_carries_what_the_run_page_shows():
    text = """name: shapes
tasks:
  crunch:
    run: python -c "import time; x = b'x' * 200_000_000; time.sleep(0.3)"
    matrix: {size: [big]}
"""
    run = run_now(text)
    span = spans_of(run)["crunch[size=big]"][0]
    task = run.tasks.get()
    attrs = span.attributes
    assert attrs["runner.workflow"] == "shapes" and attrs["runner.run.id"] == run.pk
    assert (attrs["runner.task"], attrs["runner.node"], attrs["runner.attempt"]) == ("crunch", "crunch[size=big]", 1)
    assert (attrs["runner.matrix"], attrs["runner.matrix.size"]) == ("size=big", "big")
    assert attrs["process.exit_code"] == 0 and attrs["runner.cpu_s"] > 0
    assert attrs["runner.peak_rss_bytes"] == task.peak_rss_bytes > 200_000_000
    assert attrs["runner.queue_wait_s"] >= 0 and span.events[0]["name"] == "process started"
    assert (span.taskrun_id, span.attempt) == (task.pk, 1)


def test_a_failed_attempt_is_an_error_and_a_retry_is_an_event_with_its_delay():
    run = run_now("name: flaky\ntasks:\n  a: {run: 'exit 3', retry: {max_attempts: 2, initial_delay: 0.05}}\n")
    first, second = spans_of(run)["a"]
    assert (first.status, first.status_message, first.attributes["process.exit_code"]) == ("error", "exit code 3", 3)
    assert [e["name"] for e in first.events] == ["process started", "retry scheduled"]
    assert first.events[1]["attributes"] == {"delay_s": 0.05, "next_attempt": 2}
    assert second.attributes["runner.attempt"] == 2 and second.status == "error"
    root = spans_of(run)["run flaky #1"][0]
    assert root.status == "error" and "a" in root.status_message
    assert Trace.objects.get(run=run).error_count == 3


def test_a_timeout_is_an_event_and_an_error():
    run = run_now("name: slow\ntasks:\n  a: {run: 'sleep 5', timeout: 0.3}\n")
    span = spans_of(run)["a"][0]
    assert span.status == "error" and span.status_message == "timed out after 0.3s"
    assert {"name": "timeout", "attributes": {"timeout_s": 0.3}} in [
        {"name": e["name"], "attributes": e["attributes"]} for e in span.events
    ]


def test_a_skipped_task_has_a_span_with_its_condition():
    run = run_now(
        "name: skip\ntasks:\n  a: {run: 'true'}\n  b: {run: 'true', needs: [a], skip_if: 'a.exit_code == 0'}\n"
    )
    span = spans_of(run)["b"][0]
    assert span.duration_us == 0 and span.attributes["runner.status"] == "skipped"
    assert span.events == [
        {
            "ts_us": span.start_us,
            "name": "skipped",
            "attributes": {"reason": "skip_if: a.exit_code == 0", "condition": "a.exit_code == 0"},
        }
    ]


def test_a_cancelled_run_says_so_on_its_spans(tmp_path):
    from threading import Thread

    from tests.conftest import make_workflow, wait_until
    from workflows import runner
    from workflows.models import Run

    run = runner.create_run(
        make_workflow("name: stop\ntasks:\n  a: {run: 'sleep 30'}\n  b: {run: 'true', needs: [a]}\n"), enqueue=False
    )
    worker = Thread(target=runner.execute, args=(run.pk,))
    worker.start()
    wait_until(lambda: run.tasks.filter(node_id="a", status="running").exists(), message="a never started")
    runner.request_cancel(Run.objects.get(pk=run.pk))
    worker.join(30)
    spans = spans_of(run)
    assert [e["name"] for e in spans["a"][0].events] == ["process started", "cancelled"]
    assert spans["b"][0].events[0]["name"] == "cancelled"
    root = spans["run stop #1"][0]
    assert root.events[0]["name"] == "cancelled" and root.attributes["runner.status"] == "cancelled"


def test_a_workflow_can_turn_its_tracing_off():
    run = run_now("name: quiet\ntracing: {enabled: false}\ntasks:\n  a: {run: 'env'}\n")
    assert not Trace.objects.filter(run=run).exists()
    assert not any(line.startswith("TRACEPARENT=") for line in run.log_lines.values_list("text", flat=True))


def test_attempt_spans_are_made_when_read_not_by_the_thread_that_starts_tasks(monkeypatch):
    """The executor's thread starts each next task: tracing has no hook of its own there per
    attempt (the recorder's tap passes the starts and ends on). With no page of the run open,
    nothing makes an attempt's span while the run goes: it is made from the attempt's row when
    first read, and stored then."""
    from dashboard import events
    from tracing import extension, task_spans
    from workflows.extensions import RunExtension

    made, spans = [], []
    make, init = task_spans.AttemptSpan.row, task_spans.AttemptSpan.__init__
    # No page open (with Redis' channel layer the writer cannot know, so it always makes them).
    monkeypatch.setattr(events, "_watched", lambda group: False)

    def span_init(self, *args, **kwargs):
        spans.append(args[1])
        init(self, *args, **kwargs)

    def row(self, *args):
        made.append(threading.get_ident())
        return make(self, *args)

    monkeypatch.setattr(task_spans.AttemptSpan, "row", row)
    monkeypatch.setattr(task_spans.AttemptSpan, "__init__", span_init)
    run = run_now("name: w\nmax_parallel: 2\ntasks:\n" + "".join(f"  t{i}: {{run: 'true'}}\n" for i in range(6)))

    for hook in ("attempt_started", "attempt_finished"):
        assert getattr(extension.TracingExtension, hook) is getattr(RunExtension, hook)
    assert made == [] and spans == []  # not even its facts were gathered into a span, with nobody to send it to
    trace = Trace.objects.get(run=run)
    assert trace.attempt_spans == Trace.PENDING and not Span.objects.filter(trace=trace, attempt__isnull=False)
    assert trace.span_count == 7  # counted from the attempt rows all the same
    spans = spans_of(run)
    assert len(made) == 6 and Trace.objects.get(run=run).attempt_spans == Trace.MADE
    assert all(spans[f"t{i}"][0].attributes["process.exit_code"] == 0 for i in range(6))
    assert all(spans[f"t{i}"][0].events[0]["name"] == "process started" for i in range(6))
    spans_of(run)  # stored for good: not made again
    assert len(made) == 6


def test_a_task_that_could_not_start_has_one_span_that_says_why():
    """A start that failed before its process existed (a template that cannot be rendered) is
    reported with no start: the node gets one zero-length, failed span with the reason, and a
    node that ran gets no second one."""
    run = run_now(
        "name: unrendered\ntasks:\n  a: {run: 'echo data=oops >> \"$RUNNER_OUTPUT\"'}\n"
        '  b: {run: "echo ${{ fromJSON(tasks.a.outputs.data) }}", needs: [a]}\n'
    )
    spans = spans_of(run)
    (b,) = spans["b"]
    assert (b.status, b.duration_us, b.attributes["runner.status"]) == ("error", 0, "failed")
    assert b.status_message.startswith("cannot render ${{ }}: fromJSON() needs a JSON string")
    assert len(spans["a"]) == 1 and spans["a"][0].status == "ok"
