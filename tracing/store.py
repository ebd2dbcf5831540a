"""Storing spans: rows from span records, the trace's counts, the run's sequence numbers.

The runner's own spans are written by the run's recorder (tracing.extension), except its attempt
spans, made from the attempts' rows when read (tracing.attempt_spans); spans that a task's script
sends are stored by tracing.child_spans.
"""

from __future__ import annotations

import contextlib
import functools
import operator
import statistics
from typing import Any

from django.db import connection, transaction
from django.db.models import F

from workflows.batchsql import HotSql
from workflows.models import Run, TaskAttempt, TaskRun

from .models import Span, Trace
from .otel.spans import ERROR, RUNNING, SpanEvent, SpanRecord

FAILED_ATTEMPTS = ("failed", "timeout", "lost")  # an attempt's statuses whose span is an error
USUAL_RUNS = 20  # the last this many successful runs make a workflow's usual duration
USUAL_MIN = 3  # fewer than this and there is no "usual" yet


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
    head, tail, one = _upsert_sql(connection.vendor)
    sql = HotSql(connection)
    to_json = sql.converter(Span, Span._meta.get_field("attributes"))  # what the field stores, cheaply
    with connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            params: list[Any] = []
            for row in chunk:
                params += (trace_pk, *_plain_values(row), to_json(row["attributes"]), to_json(row["events"]),
                           row["taskrun"], row["attempt"])  # fmt: skip
            sql.execute(cursor, head + ", ".join([one] * len(chunk)) + tail, params)


@functools.cache
def _upsert_sql(vendor: str) -> tuple[str, str, str]:
    """upsert_spans' statement: its head, its ON CONFLICT part, and one row's placeholders (made
    once per database backend: a run's first and last batches each wait for one)."""
    q, meta = connection.ops.quote_name, Span._meta
    columns = [meta.get_field(name).column for name in SPAN_COLUMNS]
    head = f"INSERT INTO {q(meta.db_table)} ({', '.join(q(c) for c in columns)}) VALUES "
    tail = f" ON CONFLICT ({q(meta.get_field('trace').column)}, {q('span_id')}) DO UPDATE SET " + ", ".join(
        f"{q(c)} = excluded.{q(c)}" for c in SPAN_UPDATES
    )
    return head, tail, "(" + ", ".join(["%s"] * len(columns)) + ")"


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


def insert_trace(trace: Trace) -> None:
    """Insert a run's new trace row (sets its pk): one statement, not the ORM's save, as it sits
    between the run's start and its first task. Raises IntegrityError if the run has one."""
    with transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext():
        with connection.cursor() as cursor:
            HotSql(connection).insert_instance(cursor, trace)


def refresh_counts(trace_pk: int, fields: dict[str, Any] | None = None, *, attempts_of_run: int | None = None) -> None:
    """Recount the trace's spans (and set `fields` of its row, such as its end) in one statement:
    a run's final batch waits for this, and the three ORM queries it replaced took ~2 ms of it.

    With `attempts_of_run`, the trace's attempt spans are made from that run's attempt rows
    (tracing.attempt_spans): each attempt counts as one span, an error if it failed, timed out or
    was lost, and the attempt spans stored so far are not counted again."""
    meta = Trace._meta
    fields = fields or {}
    params: list[Any] = [meta.get_field(name).get_db_prep_save(fields[name], connection) for name in fields]
    if attempts_of_run is None:
        params += [trace_pk, trace_pk, ERROR]
    else:
        params += [trace_pk, "runner", attempts_of_run, trace_pk, "runner", ERROR, attempts_of_run, *FAILED_ATTEMPTS]
    with connection.cursor() as cursor:
        statement = _counts_sql(connection.vendor, tuple(fields), attempts_of_run is not None)
        HotSql(connection).execute(cursor, statement, [*params, trace_pk])


@functools.cache
def _counts_sql(vendor: str, names: tuple[str, ...], derived: bool) -> str:
    """refresh_counts' statement, setting `names` too (made once per backend and kind: a run's
    final batch waits for it)."""
    q, meta, spans = connection.ops.quote_name, Trace._meta, Span._meta
    sets = "".join(f"{q(meta.get_field(name).column)} = %s, " for name in names)
    error = f"{q(spans.get_field('status').column)} = %s"
    count = f"SELECT COUNT(*) FROM {q(spans.db_table)} WHERE {q(spans.get_field('trace').column)} = %s"
    if not derived:
        span_count, error_count = f"({count})", f"({count} AND {error})"
    else:
        own = f"NOT ({q(spans.get_field('source').column)} = %s AND {q(spans.get_field('attempt').column)} IS NOT NULL)"
        at, tr = TaskAttempt._meta, TaskRun._meta
        attempts = (
            f"SELECT COUNT(*) FROM {q(at.db_table)} INNER JOIN {q(tr.db_table)} ON "
            f"{q(at.db_table)}.{q(at.get_field('taskrun').column)} = {q(tr.db_table)}.{q(tr.pk.column)} "
            f"WHERE {q(tr.db_table)}.{q(tr.get_field('run').column)} = %s"
        )
        failed = f"{q(at.db_table)}.{q(at.get_field('status').column)} IN ({', '.join(['%s'] * len(FAILED_ATTEMPTS))})"
        span_count = f"(({count} AND {own}) + ({attempts}))"
        error_count = f"(({count} AND {own} AND {error}) + ({attempts} AND {failed}))"
    return (
        f"UPDATE {q(meta.db_table)} SET {sets}{q(meta.get_field('span_count').column)} = {span_count}, "
        f"{q(meta.get_field('error_count').column)} = {error_count} WHERE {q(meta.pk.column)} = %s"
    )
