"""The run page's snapshot carries the trace and its spans; every span change is a run event."""

from __future__ import annotations

import pytest

from tests.tracing.conftest import run_now
from tracing.models import Trace
from workflows.models import Run
from workflows.snapshots import run_snapshot

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_snapshot_has_the_trace_and_its_spans():
    run = run_now("name: snap\ntasks:\n  a: {run: 'true'}\n  b: {run: 'true', needs: [a]}\n")
    part = run_snapshot(run.pk)["extras"]["tracing"]
    trace = Trace.objects.get(run=run)
    assert part["trace"]["trace_id"] == trace.trace_id and part["trace"]["url"] == f"/traces/{trace.trace_id}/"
    assert [s["name"] for s in part["spans"]] == ["run snap #1", "a", "b"]
    assert all(s["duration_us"] is not None for s in part["spans"])


def test_span_changes_ride_on_run_events_with_sequence_numbers(settings):
    """Four span changes (root and attempt, each starting and ending) and the trace's decision
    reach the page as run events: one for the decision, and between one and four for the spans
    (changes made while a span event waits in the recorder's queue ride on it)."""
    text = "name: seqs\ntasks:\n  a: {run: 'true'}\n"
    settings.RUNNER_EXTENSIONS = []
    from workflows.extensions import extension_classes

    extension_classes.cache_clear()
    untraced = run_now(text).last_seq
    settings.RUNNER_EXTENSIONS = ["tracing.extension.TracingExtension"]
    extension_classes.cache_clear()
    traced = Run.objects.get(pk=run_now(text).pk).last_seq
    assert 1 + 1 <= traced - untraced <= 1 + 4
