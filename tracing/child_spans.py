"""Spans a task's script sends to /api/v2/spans: stored in the web process, linked to the task
attempt they nest under, and given the run's next sequence number in the same transaction that
stores them, like every other run event."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from dashboard.events import publish_events

from .attempt_spans import DERIVED, attempt_rows
from .models import Span, Trace
from .otel.spans import SpanRecord
from .otel.zipkin import ZipkinError
from .store import allocate_seqs, refresh_counts, row_values, upsert_spans


def store_child_spans(trace: Trace, records: Iterable[SpanRecord]) -> list[dict[str, Any]]:
    """Store spans a task's script sent (a span sent again replaces its earlier copy) and publish
    them to the run page. Each is linked to the task attempt it nests under, for its log link."""
    records = list(records)
    if not records:
        return []
    with transaction.atomic():
        trace.attempt_spans = Trace.objects.filter(pk=trace.pk).values_list("attempt_spans", flat=True).get()
        known = {
            row["span_id"]: row
            for row in Span.objects.filter(trace=trace).values("span_id", "parent_id", "source", "taskrun", "attempt")
        }
        # The attempts' spans, as their rows say now (a running run's are not stored yet).
        known.update((row["span_id"], row) for row in attempt_rows(trace))
        for index, record in enumerate(records):
            if known.get(record.span_id, {}).get("source") == "runner":
                raise ZipkinError(f"span {index}: id {record.span_id} is one of the runner's own spans")
        parents = {r.span_id: r.parent_id for r in records}
        rows = []
        for record in records:
            taskrun_id, attempt = _owner(record.span_id, parents, known)
            rows.append(row_values(record, taskrun_id, attempt))
        upsert_spans(trace.pk, rows)
        refresh_counts(trace.pk, attempts_of_run=trace.run_id if trace.attempt_spans in DERIVED else None)
        (seq,) = allocate_seqs(trace.run_id, 1)
    event = {"kind": "span", "seq": seq, "spans": rows}
    publish_events(trace.run_id, [event])
    return event["spans"]


def _owner(span_id: str, parents: dict[str, str], known: dict[str, dict]) -> tuple[int | None, int | None]:
    """Walk up the parents to the first span that belongs to a task attempt."""
    seen = set()
    current = parents.get(span_id, "")
    while current and current not in seen:
        seen.add(current)
        row = known.get(current)
        if row is not None and row["taskrun"] is not None:
            return row["taskrun"], row["attempt"]
        current = parents.get(current) or (row["parent_id"] if row else "")
    return None, None
