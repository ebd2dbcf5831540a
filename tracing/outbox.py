"""A run's span changes on their way out: to the database and the run page in batches, through the
run's recorder (so each batch is one statement and one span event with the run's sequence number),
and, for a run sampled at its start, to the exporters as spans end."""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from typing import Any

from django.db import DatabaseError, transaction

from .otel.spans import SpanRecord
from .store import row_values, upsert_spans

log = logging.getLogger("runner.tracing")

# Span changes reach the database and the page at most this often (a busy run's many changes
# share one write and one event); the waterfall's bars grow by the clock in between.
FLUSH_EVERY = 0.1


def materialize(span: Any) -> SpanRecord:
    """The SpanRecord of a span handed over as one (the run's, a gate's) or as facts to build it
    from when needed (an attempt's: see tracing.task_spans.AttemptSpan)."""
    return span if type(span) is SpanRecord else span.record()


def row_of(span: Any, taskrun_id: int | None, attempt: int | None) -> dict[str, Any]:
    """A span's row (tracing.store's shape): an attempt's is made from its facts directly, about a
    third of the work of making its SpanRecord first."""
    return row_values(span, taskrun_id, attempt) if type(span) is SpanRecord else span.row(taskrun_id, attempt)


class SpanOutbox:
    def __init__(self, recorder: Any, run_pk: int, trace_pk: int, *, keep_rows: bool, export_live: bool,
                 telemetry: Any):  # fmt: skip
        self.recorder, self.run_pk, self.trace_pk = recorder, run_pk, trace_pk
        # False for a run sampled out at its start when only sampled runs' rows are kept.
        self.keep_rows = keep_rows
        self.export_live = export_live
        self.telemetry = telemetry
        self.links: dict[str, tuple[int, int | None]] = {}  # span id -> (task run id, attempt)
        self.lock = threading.Lock()
        self.changes: collections.deque[SpanRecord] = collections.deque()  # spans waiting for the writer
        self.queued_event: dict[str, Any] | None = None  # the span event waiting in the recorder's queue
        self.last_emit = 0.0
        self.to_export: collections.deque[SpanRecord] = collections.deque()  # ended, sampled at the start
        _ticker.add(self)

    def emit(self, record: SpanRecord) -> None:
        """Hand the span to the recorder's writer, at most every FLUSH_EVERY seconds: changes in
        between wait in memory and go together (one span event, one statement), and while a span
        event waits in the recorder's queue, changes ride on it. A quiet run's first change goes
        at once. The executor's threads only take a lock here."""
        if not self.keep_rows:
            return
        # No lock on this path: with the task threads queueing on one lock, each wait would give
        # up the GIL. A deque's append is atomic; the lock is taken only when an event may be due.
        self.changes.append(record)
        if self.queued_event is None and time.monotonic() - self.last_emit >= FLUSH_EVERY:
            self.flush_due()

    def ended(self, record: SpanRecord) -> None:
        """A span that ended: stored as above, and exported (by the ticker) if the run is sampled."""
        self.emit(record)
        if self.export_live:
            self.to_export.append(record)

    def flush_due(self, force: bool = False) -> None:
        with self.lock:
            event = self._due_event(time.monotonic(), force)
        if event is not None:
            self.recorder.emit(event, store=self._store)

    def export_ended(self) -> None:
        batch = []
        while True:
            try:
                batch.append(self.to_export.popleft())
            except IndexError:
                break
        if batch:
            self.telemetry.export([materialize(record) for record in batch])

    def stop(self) -> None:
        _ticker.discard(self)

    def _due_event(self, now: float, force: bool = False) -> dict[str, Any] | None:
        """A new span event if one is due (call with the lock held)."""
        if not self.changes or self.queued_event is not None:
            return None
        if not force and now - self.last_emit < FLUSH_EVERY:
            return None
        self.last_emit = now
        self.queued_event = {"kind": "span", "spans": []}
        return self.queued_event

    def _store(self) -> None:
        """Runs in the recorder's transaction: writes every span waiting, and puts them on the event
        that is published (with its sequence number) once they are committed."""
        records: dict[str, Any] = {}  # SpanRecords, and AttemptSpans
        with self.lock:
            event, self.queued_event = self.queued_event, None
        while True:  # a span changed twice is written once, as it is now
            try:
                record = self.changes.popleft()
            except IndexError:
                break
            records[record.span_id] = record
        links = self.links
        rows = {sid: row_of(record, *links.get(sid, (None, None))) for sid, record in records.items()}
        if event is not None:
            event["spans"] = list(rows.values())
        if not rows:
            return
        try:
            # Should a span row fail, the run's own records in this batch must still commit: a
            # savepoint undoes just this. (SQLite itself undoes only a failed statement for some
            # errors; for others, a full disk or I/O error, it ends the whole transaction, and then
            # rolling back to the savepoint fails loudly instead of the batch going missing.)
            with transaction.atomic():
                upsert_spans(self.trace_pk, list(rows.values()))
        except DatabaseError:
            log.exception("tracing could not store %d span(s) of run %s", len(rows), self.run_pk)


class _Ticker:
    """One thread for all the outboxes of this process: every FLUSH_EVERY / 2 it sends what waited
    in memory (a thread per run cost each run's start about a millisecond). It ends when no run
    is left and starts again with the next."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.outboxes: set[SpanOutbox] = set()
        self.thread: threading.Thread | None = None
        self.pid = 0

    def add(self, outbox: SpanOutbox) -> None:
        with self.lock:
            self.outboxes.add(outbox)
            if self.thread is None or self.pid != os.getpid():  # none yet, or it stayed in the parent of a fork
                self.pid = os.getpid()
                self.thread = threading.Thread(target=self._run, name="span-outboxes", daemon=True)
                self.thread.start()

    def discard(self, outbox: SpanOutbox) -> None:
        with self.lock:
            self.outboxes.discard(outbox)

    def _run(self) -> None:
        while True:
            time.sleep(FLUSH_EVERY / 2)
            with self.lock:
                outboxes = list(self.outboxes)
                if not outboxes:
                    self.thread = None
                    return
            for outbox in outboxes:
                try:
                    outbox.flush_due()
                    outbox.export_ended()
                except Exception:  # one run's failure must not stop the others' spans
                    log.exception("tracing could not send the spans of run %s", outbox.run_pk)


_ticker = _Ticker()
