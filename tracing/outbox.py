"""A run's span changes on their way out: to the database and the run page in batches, through the
run's recorder (so each batch is one statement and one span event with the run's sequence number),
and, for a run sampled at its start, to the exporters as spans end."""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, transaction

from dashboard.events import watched
from workflows.recorder import LATER

from .otel.spans import SpanRecord
from .store import row_values, upsert_spans

log = logging.getLogger("runner.tracing")

# Span changes reach the database and the page at most this often (a busy run's many changes
# share one write and one event); the waterfall's bars grow by the clock in between.
FLUSH_EVERY = 0.1
IDLE_FOR = 5.0


def materialize(span: Any) -> SpanRecord:
    """The SpanRecord of a span handed over as one (the run's, a gate's) or as facts to build it
    from when needed (an attempt's: see tracing.task_spans.AttemptSpan)."""
    return span if type(span) is SpanRecord else span.record()


class SpanOutbox:
    def __init__(self, recorder: Any, run_pk: int, trace_pk: int, *, keep_rows: bool, export_live: bool,
                 telemetry: Any):  # fmt: skip
        self.recorder, self.run_pk, self.trace_pk = recorder, run_pk, trace_pk
        # False for a run sampled out at its start when only sampled runs' rows are kept.
        self.keep_rows = keep_rows
        self.export_live = export_live
        self.telemetry = telemetry
        # A span without an attempt of its own -> (its task run's id, None); an attempt's span
        # finds its task run in the recorder's.
        self.links: dict[str, tuple[int, int | None]] = {}
        self.lock = threading.Lock()
        self.changes: collections.deque[SpanRecord] = collections.deque()  # spans waiting for the writer
        # The attempts' starts and ends reported so far (tracing.task_spans.NotedAttempts): how
        # many are waiting, and `take_noted`, which makes their spans and hands them to `note`,
        # from the thread that sends. They are made only when something needs them: an open page
        # of the run, a live export, the run's end when its trace is exported.
        self.noted_count: Callable[[], int] = lambda: 0
        self.take_noted: Callable[[], None] = lambda: None
        self.noted_mark = 0  # how many were waiting when the last span event was made
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

    def note(self, span: Any, ended: bool = False) -> None:
        """An attempt's span (take_noted's): stored and exported as above, sent with the changes
        that are being sent (no event of its own)."""
        if self.keep_rows:
            self.changes.append(span)
        if ended and self.export_live:
            self.to_export.append(span)

    def flush_due(self, force: bool = False) -> None:
        with self.lock:
            event = self._due_event(time.monotonic(), force)
        if event is not None:
            self.recorder.emit(event, store=self._store)

    def export_ended(self) -> None:
        if self.export_live:
            self.drain_noted()
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

    def drain_noted(self) -> None:
        self.take_noted()
        with self.lock:
            self.noted_mark = 0

    def _page_wants(self) -> bool:
        """Whether attempts noted since the last span event are worth one: only an open page of
        the run gets them (the scaled-out layer cannot tell, so there: always)."""
        return self.keep_rows and self.noted_count() > self.noted_mark and watched(self.run_pk)

    def _due_event(self, now: float, force: bool = False) -> dict[str, Any] | None:
        """A new span event if one is due (call with the lock held)."""
        if not (self.changes or self._page_wants()) or self.queued_event is not None:
            return None
        if not force and now - self.last_emit < FLUSH_EVERY:
            return None
        self.last_emit = now
        self.noted_mark = self.noted_count()
        self.queued_event = {"kind": "span", "spans": []}
        return self.queued_event

    def _store(self) -> None:
        """Runs in the recorder's transaction: writes every span waiting, and puts them on the event
        that is published (with its sequence number) once they are committed. An attempt's span is
        not written (tracing.attempt_spans makes it from the attempt's row when read), and its row
        is made for the event only if the run's page is open."""
        records: dict[str, Any] = {}  # SpanRecords, and AttemptSpans
        if self.noted_count() and watched(self.run_pk):  # else they wait: nobody would get them
            self.drain_noted()
        with self.lock:
            event, self.queued_event = self.queued_event, None
        while True:  # a span changed twice is written once, as it is now
            try:
                record = self.changes.popleft()
            except IndexError:
                break
            records[record.span_id] = record
        links = self.links
        rows, attempts = [], []
        for span_id, record in records.items():
            if type(record) is SpanRecord:
                rows.append(row_values(record, *links.get(span_id, (None, None))))
            else:  # an attempt's span: made from its row when read (tracing.attempt_spans), so not stored
                attempts.append(record)
        if event is not None:
            event["spans"] = rows
            if attempts:  # its row only if the run's page is open

                def with_attempts() -> dict[str, Any]:
                    tasks = self.recorder.tasks  # each attempt's span links to its task run
                    return {"spans": rows + [a.row(tasks.get(a.node_id, {}).get("id"), a.attempt) for a in attempts]}

                event[LATER] = with_attempts
        if not rows:
            return
        try:
            # Should a span row fail, the run's own records in this batch must still commit: a
            # savepoint undoes just this. (SQLite itself undoes only a failed statement for some
            # errors; for others, a full disk or I/O error, it ends the whole transaction, and then
            # rolling back to the savepoint fails loudly instead of the batch going missing.)
            with transaction.atomic():
                upsert_spans(self.trace_pk, rows)
        except DatabaseError:
            log.exception("tracing could not store %d span(s) of run %s", len(rows), self.run_pk)


class _Ticker:
    """One thread for all the outboxes of this process: every FLUSH_EVERY / 2 it sends what waited
    in memory (a thread per run cost each run's start about a millisecond). It ends when no run
    has been left for IDLE_FOR seconds, and starts again with the next."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.outboxes: set[SpanOutbox] = set()
        self.thread: threading.Thread | None = None
        self.pid = 0
        self.idle_since: float | None = None  # when its last run ended, while it waits for another

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
                    # Kept a while for the next run: starting a thread is ~0.5 ms of a run's start.
                    self.idle_since = self.idle_since or time.monotonic()
                    if time.monotonic() - self.idle_since >= IDLE_FOR:
                        self.thread, self.idle_since = None, None
                        return
                    continue
                self.idle_since = None
            for outbox in outboxes:
                try:
                    outbox.flush_due()
                    outbox.export_ended()
                except Exception:  # one run's failure must not stop the others' spans
                    log.exception("tracing could not send the spans of run %s", outbox.run_pk)


_ticker = _Ticker()
