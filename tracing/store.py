"""Storing spans: rows from span records, child spans sent to /api/v2/spans, and their events.

The runner's own spans are written by the run's recorder (tracing.extension); spans that a
task's script sends arrive here, in the web process, and get the run's next sequence number
in the same transaction that stores them, like every other run event.
"""

from __future__ import annotations

import operator
import statistics
from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction
from django.db.models import F

from dashboard.events import publish_events
from workflows.batchsql import HotSql
from workflows.models import Run

from .models import Span, Trace, span_dict
from .otel.spans import ERROR, RUNNING, SpanEvent, SpanRecord
from .otel.zipkin import ZipkinError

USUAL_RUNS = 20  # the last this many successful runs make a workflow's usual duration
USUAL_MIN = 3  # fewer than this and there is no "usual" yet
SNAPSHOT_LIMIT = 5000


def row_values(record: SpanRecord, taskrun_id: int | None = None, attempt: int | None = None) -> dict[str, Any]:
    """A span as the pages and the API show it (span_dict's shape), which is also what
    upsert_spans writes: copied, as the record may change in another thread afterwards."""
    return {
        "span_id": record.span_id,
        "parent_id": record.parent_id,
        "name": record.name[:300],
        "kind": record.kind,
        "service": record.service[:200],
        "source": record.source,
        "start_us": record.start_us,
        "duration_us": record.duration_us,
        "status": RUNNING if record.end_us is None else record.status,
        "status_message": record.status_message,
        "attributes": dict(record.attributes),
        "events": [event.as_dict() for event in record.events],
        "taskrun": taskrun_id,
        "attempt": attempt,
    }


_PLAIN = ("span_id", "parent_id", "name", "kind", "service", "source", "start_us", "duration_us", "status",
          "status_message")  # fmt: skip
_plain_values = operator.itemgetter(*_PLAIN)
SPAN_COLUMNS = ("trace", *_PLAIN, "attributes", "events", "taskrun", "attempt")  # a row's parameters in this order
SPAN_UPDATES = ("duration_us", "status", "status_message", "attributes", "events")
CHUNK = 60  # rows per statement: 15 parameters each stays under any SQLite's limit


def upsert_spans(trace_pk: int, rows: list[dict[str, Any]]) -> None:
    """Insert span rows, or update the ones already there (a span's end after its start), in one
    statement per chunk: per row, the ORM's bulk_create costs more than the rest of a span."""
    if not rows:
        return
    q = connection.ops.quote_name
    meta = Span._meta
    columns = [meta.get_field(name).column for name in SPAN_COLUMNS]
    sql = HotSql(connection)
    to_json = sql.converter(Span, meta.get_field("attributes"))  # what the field stores, cheaply
    head = f"INSERT INTO {q(meta.db_table)} ({', '.join(q(c) for c in columns)}) VALUES "
    tail = f" ON CONFLICT ({q(meta.get_field('trace').column)}, {q('span_id')}) DO UPDATE SET " + ", ".join(
        f"{q(c)} = excluded.{q(c)}" for c in SPAN_UPDATES
    )
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            params: list[Any] = []
            for row in chunk:
                params += (trace_pk, *_plain_values(row), to_json(row["attributes"]), to_json(row["events"]),
                           row["taskrun"], row["attempt"])  # fmt: skip
            sql.execute(cursor, head + ", ".join([one] * len(chunk)) + tail, params)


def record_from_row(trace_id: str, row: dict[str, Any]) -> SpanRecord:
    duration = row["duration_us"]
    return SpanRecord(
        trace_id=trace_id,
        span_id=row["span_id"],
        parent_id=row["parent_id"],
        name=row["name"],
        start_us=row["start_us"],
        end_us=None if duration is None else row["start_us"] + duration,
        kind=row["kind"],
        status=row["status"],
        status_message=row["status_message"],
        attributes=dict(row["attributes"] or {}),
        events=[SpanEvent(e["ts_us"], e["name"], e.get("attributes") or {}) for e in row["events"] or []],
        service=row["service"],
        source=row["source"],
    )


def trace_dict(trace: Trace) -> dict[str, Any]:
    return {
        "trace_id": trace.trace_id,
        "root_span_id": trace.root_span_id,
        "run": trace.run_id,
        "status": trace.status,
        "started_at": trace.started_at.isoformat() if trace.started_at else None,
        "ended_at": trace.ended_at.isoformat() if trace.ended_at else None,
        "duration_s": trace.duration_s,
        "span_count": trace.span_count,
        "error_count": trace.error_count,
        "sampler": trace.sampler,
        "sampled": trace.sampled,
        "decision": trace.decision,
        "url": trace.get_absolute_url(),
    }


def trace_spans(trace: Trace, limit: int = SNAPSHOT_LIMIT) -> list[dict[str, Any]]:
    rows = Span.objects.filter(trace=trace).order_by("start_us", "id").values()[:limit]
    return [span_dict(row) for row in rows]


def usual_duration(run: Run) -> float | None:
    """The median wall time of the workflow's last successful runs (None with too few)."""
    rows = (
        Run.objects.filter(workflow_id=run.workflow_id, status=Run.SUCCESS, started_at__isnull=False)
        .exclude(pk=run.pk)
        .exclude(finished_at__isnull=True)
        .order_by("-created_at")
        .values_list("started_at", "finished_at")[:USUAL_RUNS]
    )
    durations = [(end - start).total_seconds() for start, end in rows]
    if len(durations) < USUAL_MIN:
        return None
    return statistics.median(durations)


def allocate_seqs(run_id: int, count: int) -> list[int]:
    """The run's next `count` sequence numbers; call inside the transaction that stores the events."""
    Run.objects.filter(pk=run_id).update(last_seq=F("last_seq") + count)
    last = Run.objects.filter(pk=run_id).values_list("last_seq", flat=True).get()
    return list(range(last - count + 1, last + 1))


def refresh_counts(trace_pk: int, fields: dict[str, Any] | None = None) -> None:
    """Recount the trace's spans (and set `fields` of its row, such as its end) in one statement:
    a run's final batch waits for this, and the three ORM queries it replaced took ~2 ms of it."""
    q, meta, spans = connection.ops.quote_name, Trace._meta, Span._meta
    fields = fields or {}
    names = list(fields)
    sets = "".join(f"{q(meta.get_field(name).column)} = %s, " for name in names)
    count = f"SELECT COUNT(*) FROM {q(spans.db_table)} WHERE {q(spans.get_field('trace').column)} = %s"
    with connection.cursor() as cursor:
        HotSql(connection).execute(
            cursor,
            f"UPDATE {q(meta.db_table)} SET {sets}{q(meta.get_field('span_count').column)} = ({count}), "
            f"{q(meta.get_field('error_count').column)} = ({count} AND {q(spans.get_field('status').column)} = %s) "
            f"WHERE {q(meta.pk.column)} = %s",
            [*(meta.get_field(name).get_db_prep_save(fields[name], connection) for name in names),
             trace_pk, trace_pk, ERROR, trace_pk],
        )  # fmt: skip


def store_child_spans(trace: Trace, records: Iterable[SpanRecord]) -> list[dict[str, Any]]:
    """Store spans a task's script sent (a span sent again replaces its earlier copy) and publish
    them to the run page. Each is linked to the task attempt it nests under, for its log link."""
    records = list(records)
    if not records:
        return []
    with transaction.atomic():
        known = {
            row["span_id"]: row
            for row in Span.objects.filter(trace=trace).values(
                "span_id", "parent_id", "source", "taskrun_id", "attempt"
            )
        }
        for index, record in enumerate(records):
            if known.get(record.span_id, {}).get("source") == "runner":
                raise ZipkinError(f"span {index}: id {record.span_id} is one of the runner's own spans")
        parents = {r.span_id: r.parent_id for r in records}
        rows = []
        for record in records:
            taskrun_id, attempt = _owner(record.span_id, parents, known)
            rows.append(row_values(record, taskrun_id, attempt))
        upsert_spans(trace.pk, rows)
        refresh_counts(trace.pk)
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
        if row is not None and row["taskrun_id"] is not None:
            return row["taskrun_id"], row["attempt"]
        current = parents.get(current) or (row["parent_id"] if row else "")
    return None, None
