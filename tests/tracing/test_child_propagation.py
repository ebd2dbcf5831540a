"""A task's own script joins the run's trace: TRACEPARENT, TRACESTATE and BAGGAGE in its
environment, and its spans, sent by the SDK's Zipkin exporter to our /api/v2/spans with the
run's token, land under its task's span.

The dashboard side is pytest-django's live server (a real HTTP server running our Django
app); the child is a real Python process using opentelemetry-sdk and the Zipkin JSON exporter.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.tracing.conftest import run_now, stored_spans
from tracing.models import Span, Trace

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
CHILD = Path(__file__).with_name("instrumented_child.py")


def test_the_task_environment_carries_the_trace_context(settings):
    run = run_now("name: ctx\ntasks:\n  a: {run: 'env'}\n")
    env = dict(line.split("=", 1) for line in run.log_lines.values_list("text", flat=True) if "=" in line)
    trace = Trace.objects.get(run=run)
    span = stored_spans(run).get(name="a")
    assert env["TRACEPARENT"] == f"00-{trace.trace_id}-{span.span_id}-01"
    assert env["TRACESTATE"] == f"runner={run.pk}"
    assert env["BAGGAGE"] == f"runner.workflow=ctx,runner.run.id={run.pk},runner.node=a,runner.attempt=1"
    assert (
        env["OTEL_EXPORTER_ZIPKIN_ENDPOINT"]
        == f"http://run-{run.pk}:***@{settings.SITE_URL.split('://')[1]}/api/v2/spans"
    )
    assert env["RUNNER_TRACE_TOKEN"] == "***"  # the token is a credential: masked in every log line
    assert env["OTEL_SERVICE_NAME"] == "ctx.a" and env["RUNNER_TRACE_ID"] == trace.trace_id


def test_the_workflow_file_keeps_its_own_otel_settings():
    run = run_now("name: own\nenv: {OTEL_SERVICE_NAME: mine}\ntasks:\n  a: {run: 'printenv OTEL_SERVICE_NAME'}\n")
    assert list(run.log_lines.values_list("text", flat=True)) == ["mine"]


def test_the_workflow_file_keeps_its_own_span_endpoint():
    """The run-wide variables sit under the workflow's `env:` and the task's: theirs win."""
    run = run_now(
        "name: elsewhere\nenv: {OTEL_EXPORTER_ZIPKIN_ENDPOINT: 'http://collector:9411/api/v2/spans'}\n"
        "tasks:\n  a: {run: 'printenv OTEL_EXPORTER_ZIPKIN_ENDPOINT RUNNER_TRACE_ID', env: {RUNNER_TRACE_ID: mine}}\n"
    )
    assert list(run.log_lines.values_list("text", flat=True)) == ["http://collector:9411/api/v2/spans", "mine"]


def test_an_instrumented_child_scripts_spans_nest_under_its_task_span(live_server, settings, tmp_path):
    settings.SITE_URL = live_server.url
    shutil.copy(CHILD, tmp_path / "child.py")
    run = run_now("name: kid\ntasks:\n  extract: {run: 'python child.py 0.05'}\n", base_dir=str(tmp_path))
    assert run.status == "success", list(run.log_lines.values_list("text", flat=True))
    spans = stored_spans(run)
    task_span, outer, inner = spans.get(name="extract"), spans.get(name="load rows"), spans.get(name="parse")
    assert outer.parent_id == task_span.span_id and inner.parent_id == outer.span_id
    assert (
        task_span.start_us <= outer.start_us
        and outer.start_us + outer.duration_us <= task_span.start_us + task_span.duration_us
    )
    assert (outer.source, outer.service, outer.attributes["rows"]) == ("child", "kid.extract", "42")
    assert outer.events[0]["name"] == "batch read" and outer.events[0]["attributes"] == {"batch": 1}
    assert inner.duration_us >= 50_000
    # Linked to the task attempt, for the waterfall's link to its log lines.
    assert (outer.taskrun_id, outer.attempt, inner.taskrun_id) == (run.tasks.get().pk, 1, run.tasks.get().pk)
    assert Trace.objects.get(run=run).span_count == 4


def test_an_unsampled_run_tells_its_child_not_to_record(live_server, settings, tmp_path):
    settings.SITE_URL = live_server.url
    settings.TRACING = {"sampler": "always_off"}
    shutil.copy(CHILD, tmp_path / "child.py")
    run = run_now("name: hush\ntasks:\n  extract: {run: 'python child.py 0.01'}\n", base_dir=str(tmp_path))
    assert run.status == "success"
    assert stored_spans(run).filter(source="runner").count() == 2  # kept in our store (TRACING_STORE=all)
    assert not Span.objects.filter(trace__run=run, source="child").exists()  # the child's ParentBased sampler said no
