"""A run resumed after its worker died keeps its trace: same trace and root span, and the spans
the dead worker left running end as errors."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.conftest import make_workflow
from tracing.attempt_spans import sync
from tracing.models import Span, Trace
from workflows import runner
from workflows.models import Run

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("start_stored", [True, False], ids=["start-stored", "died-before-its-start-was-stored"])
@pytest.mark.parametrize("attempt_spans", [Trace.PENDING, Trace.STORED], ids=["derived", "begun-by-an-older-worker"])
def test_a_resumed_run_continues_its_trace(start_stored, attempt_spans):
    run = runner.create_run(make_workflow("name: again\ntasks:\n  a: {run: 'true'}\n"), enqueue=False)
    if start_stored:  # else the trace is found when the new one cannot be inserted
        Run.objects.filter(pk=run.pk).update(started_at=timezone.now())
    # What the first worker had written before it died.
    trace = Trace.objects.create(
        run=run, trace_id="4bf92f3577b34da6a3ce929d0e0e4736", root_span_id="00f067aa0ba902b7",
        started_at=timezone.now(), sampler="always_on", sampled=True, attempt_spans=attempt_spans,
    )  # fmt: skip
    start = int(trace.started_at.timestamp() * 1_000_000)
    Span.objects.create(trace=trace, span_id="00f067aa0ba902b7", name="run again #1", start_us=start)
    Span.objects.create(
        trace=trace, span_id="1111111111111111", parent_id="00f067aa0ba902b7", name="gates", start_us=start + 100
    )
    if attempt_spans == Trace.STORED:  # an older worker stored its attempts' spans as it went
        Span.objects.create(
            trace=trace, span_id="2222222222222222", parent_id="00f067aa0ba902b7", name="a", start_us=start + 200,
            taskrun=run.tasks.get(), attempt=1,
        )  # fmt: skip
    runner.execute(run.pk)
    assert Run.objects.get(pk=run.pk).status == "success"
    sync(Trace.objects.get(pk=trace.pk))  # as any reader does first
    spans = Span.objects.filter(trace=trace)
    lost = spans.get(span_id="1111111111111111")
    assert lost.status == "error" and lost.status_message.startswith("lost") and lost.duration_us > 0
    root = spans.get(span_id="00f067aa0ba902b7")
    assert root.status == "ok" and root.start_us == start and root.duration_us > 0
    # The attempt's span is made from its row, once (an older worker's stored copy is gone).
    assert list(spans.filter(name="a").values_list("status", flat=True)) == ["ok"]
    assert Trace.objects.count() == 1 and Trace.objects.get().attempt_spans == Trace.MADE
    assert Trace.objects.get().span_count == 3
