"""Head sampling decided in real runs: the global ratio (0 drops, 1 keeps, with the decision
recorded on the trace), and a workflow's own `tracing:` section overriding the global settings
(its sampler and its attributes on the run's span)."""

from __future__ import annotations

import pytest

from tests.tracing.conftest import run_now
from tracing.models import Span, Trace

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(("ratio", "sampled"), [(0.0, False), (1.0, True)])
def test_the_global_ratio_decides_at_the_start(settings, ratio, sampled):
    settings.TRACING = {"sampler": "ratio", "ratio": ratio}
    run = run_now(f"name: ratio_{int(ratio)}\ntasks:\n  a: {{run: 'echo $TRACEPARENT'}}\n")
    trace = Trace.objects.get(run=run)
    assert (trace.sampler, trace.sampled) == ("ratio", sampled)
    assert trace.decision  # says why
    # The task's script is told the decision through the W3C flags (01 sampled, 00 not).
    assert run.log_lines.get().text.endswith("-01" if sampled else "-00")


def test_a_workflows_own_section_overrides_the_global_sampler(settings):
    settings.TRACING = {"sampler": "always_off"}
    text = "name: own_rules\ntracing:\n  sampler: always_on\n  attributes: {owner: data-team}\ntasks:\n  a: {run: 'true'}\n"
    run = run_now(text)
    trace = Trace.objects.get(run=run)
    assert (trace.sampler, trace.sampled) == ("always_on", True)
    root = Span.objects.get(trace=trace, span_id=trace.root_span_id)
    assert root.attributes["owner"] == "data-team"
    other = run_now("name: no_rules\ntasks:\n  a: {run: 'true'}\n")
    assert Trace.objects.get(run=other).sampled is False
