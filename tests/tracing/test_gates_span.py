"""A gates span covers the gates that run before the tasks (the extensions after tracing's)."""

from __future__ import annotations

import pytest

from tests.tracing.conftest import run_now, stored_spans
from tracing.models import Span
from workflows.extensions import RunExtension, Stop, extension_classes

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
GATED = "name: gated\ngates: {secrets: {block: true}}\ntasks:\n  a: {run: 'true'}\n"


class BlockingGate(RunExtension):
    name = "blocking-gate"

    def before_tasks(self):
        return Stop("blocked: 1 unresolved secret finding", status="failed")


class PassingGate(RunExtension):
    name = "passing-gate"


@pytest.fixture
def gate(settings):
    def use(cls):
        settings.RUNNER_EXTENSIONS = ["tracing.extension.TracingExtension", f"{__name__}.{cls.__name__}"]
        extension_classes.cache_clear()

    return use


def test_a_passing_gate_is_a_span_before_the_first_task(gate):
    gate(PassingGate)
    run = run_now(GATED)
    gates, task = stored_spans(run).get(name="gates"), stored_spans(run).get(name="a")
    assert gates.status == "ok" and gates.attributes == {"runner.gates": "secrets"}
    assert gates.start_us + gates.duration_us <= task.start_us + task.attributes["runner.queue_wait_s"] * 1e6 + 1000


def test_a_blocking_gate_is_an_error_span_with_its_reason(gate):
    gate(BlockingGate)
    run = run_now(GATED)
    assert run.status == "failed"
    spans = {s.name: s for s in Span.objects.filter(trace__run=run)}
    assert set(spans) == {"run gated #1", "gates"}
    assert (spans["gates"].status, spans["gates"].status_message) == ("error", "blocked: 1 unresolved secret finding")
    assert spans["run gated #1"].status == "error"


def test_a_workflow_without_gates_has_no_gates_span(gate):
    gate(PassingGate)
    run = run_now("name: open\ntasks:\n  a: {run: 'true'}\n")
    assert not Span.objects.filter(trace__run=run, name="gates").exists()
