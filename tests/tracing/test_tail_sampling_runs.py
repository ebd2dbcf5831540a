"""Tail sampling of real runs: the spans wait in memory until the run ends; a kept trace is
exported whole (with its child spans), a dropped one is not, and the decision is recorded.

Exports go to a tiny local HTTP server speaking Zipkin's collector API (tests/tracing/conftest.py).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.tracing.conftest import run_now, stored_spans
from tracing import telemetry
from tracing.models import Trace
from workflows.models import Run

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tail(settings, monkeypatch, receiver):
    monkeypatch.setenv("OTEL_EXPORTER_ZIPKIN_ENDPOINT", f"{receiver.url}/api/v2/spans")
    settings.TRACING = {"exporters": ["zipkin"], "sampler": "tail", "ratio": 0.0}
    return receiver


def exported(receiver) -> set[str]:
    assert telemetry.telemetry().force_flush()
    return {span["name"] for span in receiver.zipkin_spans()}


def test_a_failed_run_is_kept_and_exported_whole(tail):
    run = run_now("name: bad\ntasks:\n  a: {run: 'true'}\n  b: {run: 'false', needs: [a]}\n")
    trace = Trace.objects.get(run=run)
    assert (trace.sampler, trace.sampled, trace.decision) == ("tail", True, "the run failed")
    assert exported(tail) == {"run bad #1", "a", "b"}


def test_spans_of_tasks_that_never_ran_are_exported_with_the_rest(tail):
    """Upstream-failed and skipped tasks have zero-length spans made as the run ends; the export
    must not depend on the writer having stored them yet (it read them from the database once)."""
    for number in range(3):  # the writer's timing varies: a race shows within a few runs
        tail.requests.clear()
        text = f"name: chain{number}\ntasks:\n  a: {{run: 'false'}}\n  b: {{run: 'true', needs: [a]}}\n"
        run_now(text + "  c: {run: 'true', needs: [b]}\n")
        assert exported(tail) == {f"run chain{number} #1", "a", "b", "c"}


def test_a_quick_successful_run_is_dropped_by_a_zero_ratio(tail):
    run = run_now("name: fine\ntasks:\n  a: {run: 'true'}\n")
    trace = Trace.objects.get(run=run)
    assert trace.sampled is False and trace.decision == "ratio 0 (dropped)"
    assert exported(tail) == set()
    assert trace.span_count == 2  # still in the built-in store (TRACING_STORE=all)


def test_the_decision_waits_for_the_end_of_the_run(tail):
    """While the run goes on, its trace is undecided and its task's script is told to record."""
    run = run_now("name: waiting\ntasks:\n  a: {run: 'echo $TRACEPARENT'}\n")
    assert run.log_lines.get().text.endswith("-01")
    assert Trace.objects.get(run=run).sampled is False


def test_a_retried_task_keeps_the_trace(tail, tmp_path):
    flaky = "test -e marker || { touch marker; exit 1; }"  # fails once, then succeeds
    run_now(
        f"name: retried\ntasks:\n  a: {{run: '{flaky}', retry: {{max_attempts: 2, initial_delay: 0.01}}}}\n",
        base_dir=str(tmp_path),
    )
    trace = Trace.objects.get(run__workflow__name="retried")
    assert trace.sampled and trace.decision == "a task was retried"
    assert exported(tail) == {"run retried #1", "a"}


def test_a_matching_tag_keeps_the_trace(tail, settings):
    settings.TRACING = {**settings.TRACING, "tail": {"tags": {"team": "data"}}}
    run_now("name: tagged\ntags: {team: data}\ntasks:\n  a: {run: 'true'}\n")
    assert Trace.objects.get(run__workflow__name="tagged").decision == "tag team=data"


def test_a_run_much_slower_than_usual_is_kept(tail):
    text = "name: usual\ntasks:\n  a: {run: 'sleep 0.3'}\n"
    run_now(text)
    now = timezone.now()
    # Three earlier runs that took 0.1 s make the workflow's usual duration.
    earlier = Run.objects.get()
    for number in range(2, 5):
        Run.objects.create(
            workflow=earlier.workflow, workflow_version=earlier.workflow_version, number=number, status=Run.SUCCESS,
            started_at=now - timedelta(seconds=10), finished_at=now - timedelta(seconds=9.9),
        )  # fmt: skip
    run = run_now(text)
    trace = Trace.objects.get(run=run)
    assert trace.sampled and trace.decision.endswith("x its usual 0.1s (limit 2x)"), trace.decision


def test_child_spans_are_exported_with_the_kept_trace(tail, live_server, settings, tmp_path):
    import shutil
    from pathlib import Path

    settings.SITE_URL = live_server.url
    shutil.copy(Path(__file__).with_name("instrumented_child.py"), tmp_path / "child.py")
    run_now(
        "name: kids\ntasks:\n  a: {run: 'python child.py 0.01'}\n  b: {run: 'false', needs: [a]}\n",
        base_dir=str(tmp_path),
    )
    assert exported(tail) == {"run kids #1", "a", "b", "load rows", "parse"}


def test_store_sampled_keeps_only_kept_traces_in_the_database(tail, settings):
    settings.TRACING = {**settings.TRACING, "store": "sampled"}
    dropped = run_now("name: dropped\ntasks:\n  a: {run: 'true'}\n")
    kept = run_now("name: kept\ntasks:\n  a: {run: 'false'}\n")
    assert not stored_spans(dropped).exists()
    assert Trace.objects.get(run=dropped).sampled is False  # the decision itself stays
    assert Trace.objects.get(run=dropped).span_count == 0  # its attempts are not counted as spans either
    assert stored_spans(kept).count() == 2 == Trace.objects.get(run=kept).span_count
