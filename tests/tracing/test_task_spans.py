"""What a task's span says about its attempt: figures, status, message and events, for each way
an attempt or a task can end."""

from __future__ import annotations

import pytest

from tests.engine.conftest import plan_of
from tracing import task_spans
from tracing.otel.spans import ERROR, OK, UNSET, new_span_id, new_trace_id
from workflows.engine import executor as ex
from workflows.engine.process import ProcessResult

PLAN = plan_of("""
name: spans
tasks:
  build:
    run: "true"
    timeout: 2.5
    skip_if: "1 == 1"
    matrix: {py: ["3.11"], opt: [2]}
""")


def span():
    node_id = next(n for n in PLAN.nodes if n.startswith("build"))
    return task_spans.task_span(PLAN, node_id, new_trace_id(), new_span_id(), new_span_id(), 1_000_000,
                                run_pk=7, service="runner")  # fmt: skip


def finish(status: str, *, retry: float | None = None, **result) -> tuple:
    record = span()
    task_spans.attempt_started(record, 2, ready_at=1.0, started_at=1.25, command="true", pid=42)
    fields = {"started_at": 1.25, "ended_at": 3.0, "wall_s": 1.75, "cpu_user_s": 0.5, "cpu_sys_s": 0.25}
    info = ex.AttemptInfo(record.name, 2, ProcessResult(**{**fields, **result}), status, {}, [], retry)
    retried = task_spans.attempt_finished(record, info, timeout=2.5, mask=lambda text: text.replace("pw", "***"))
    return record, retried


def test_a_leg_of_a_matrix_task_names_its_values() -> None:
    attributes = span().attributes
    assert attributes["runner.task"] == "build" and attributes["runner.run.id"] == 7
    assert (attributes["runner.matrix.py"], attributes["runner.matrix.opt"]) == ("3.11", 2)
    assert attributes["runner.matrix"] == next(iter(PLAN.nodes.values())).leg_key


def test_a_started_attempt_shows_its_queue_wait_and_process() -> None:
    record = span()
    task_spans.attempt_started(record, 1, ready_at=1.0, started_at=1.25, command="true", pid=42)
    assert record.attributes["runner.queue_wait_s"] == 0.25 and record.attributes["process.pid"] == 42
    assert [(e.name, e.ts_us, e.attributes) for e in record.events] == [("process started", 1_250_000, {"pid": 42})]
    assert record.end_us is None


def test_success_keeps_the_figures_and_drops_what_is_unknown() -> None:
    record, retried = finish("success", exit_code=0, peak_rss_bytes=0)
    assert (record.status, record.status_message, record.end_us, retried) == (OK, "", 3_000_000, False)
    assert record.attributes["runner.cpu_s"] == 0.75 and record.attributes["process.exit_code"] == 0
    assert "runner.peak_rss_bytes" not in record.attributes and "runner.signal" not in record.attributes


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ({"exit_code": 3}, "exit code 3"),
        ({"signal": 9}, "killed by signal 9"),
        ({"error": "cannot start: pw missing"}, "cannot start: *** missing"),  # masked
    ],
)
def test_a_failure_says_why(result: dict, message: str) -> None:
    record, _ = finish("failed", **result)
    assert (record.status, record.status_message) == (ERROR, message)


def test_a_timeout_and_a_scheduled_retry_are_events() -> None:
    record, retried = finish("timeout", signal=15, timed_out=True, retry=1.5)
    assert (record.status, record.status_message, retried) == (ERROR, "timed out after 2.5s", True)
    assert [(e.name, e.attributes) for e in record.events[1:]] == [
        ("timeout", {"timeout_s": 2.5}),
        ("retry scheduled", {"delay_s": 1.5, "next_attempt": 3}),
    ]


def test_a_cancelled_attempt_is_not_an_error() -> None:
    record, _ = finish("cancelled", cancelled=True)
    assert record.status == UNSET and record.events[-1].name == "cancelled"


def test_a_task_that_never_ran_says_why() -> None:
    task = next(iter(PLAN.nodes.values())).task
    skipped = span()
    task_spans.ended_without_attempt(skipped, ex.SKIPPED, "skip_if: 1 == 1", task, 2_000_000)
    assert (skipped.status, skipped.end_us, skipped.attributes["runner.status"]) == (UNSET, 2_000_000, "skipped")
    assert skipped.events[0].attributes == {"reason": "skip_if: 1 == 1", "condition": "1 == 1"}
    upstream = span()
    task_spans.ended_without_attempt(upstream, ex.UPSTREAM_FAILED, "needs failed: lint", task, 2_000_000)
    assert upstream.events[0].name == "upstream failed" and "condition" not in upstream.events[0].attributes
    failed = span()
    task_spans.ended_without_attempt(failed, ex.FAILED, "", task, 2_000_000)
    assert (failed.status, failed.status_message, failed.events) == (ERROR, "failed", [])
