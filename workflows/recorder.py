"""Stores what the executor reports and publishes it, from one writer thread per run.

Executor threads only put records on a queue. The writer takes everything waiting, writes it in
one transaction (group commit: busy runs get big batches, idle runs get low latency), allocates
the run's sequence numbers in that same transaction, and publishes after the commit, so a
browser's snapshot and the events after it always agree.
"""

from __future__ import annotations

import collections
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction
from django.db.transaction import TransactionManagementError

from dashboard.events import publish_events, watched

from .batchsql import HotSql
from .changes import run_event
from .engine import executor as ex
from .models import LogLine, Run, TaskRun, task_state

log = logging.getLogger("runner.recorder")
MAX_BATCH = 5000
# A run that wrote less than BUSY_WINDOW ago is busy: gather its events for COALESCE seconds.
BUSY_WINDOW = 0.05
COALESCE = 0.004
# A run whose next event came less than FLOODED after the last write makes events faster than
# they are written: gather for FLOOD_FACTOR times the last write's length (at most MAX_COALESCE),
# so that writing takes at most about a third of the time whatever the run does.
FLOODED = 0.01
FLOOD_FACTOR = 2.0
# Once every task has started or ended, batches smaller than this are no longer gathered for long.
ENDING_BATCH = 500
MAX_COALESCE = 0.025
LATER = "later"  # see RunRecorder.emit
STREAMS = {"stdout": LogLine.STDOUT, "stderr": LogLine.STDERR, "system": LogLine.SYSTEM}


def _dt(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, tz=UTC) if ts is not None else None


def _iso(ts: float | None) -> str | None:
    return _dt(ts).isoformat() if ts is not None else None


class RunRecorder(ex.Hooks):
    progress_interval = 1.0

    def __init__(self, run: Run, mask: Callable[[str], str] | None = None):
        self.run_id = run.pk
        # Applied to everything stored or sent. Log lines are masked by the writer, a batch at a
        # time (`mask.mask_lines` when the mask has it: one scan per batch, not one per line).
        self.mask = mask or (lambda text: text)
        self._output_warnings: dict[str, list[str]] = {}
        self.host = socket.gethostname()
        with connection.cursor() as cursor:
            rows = HotSql(connection).select_rows(cursor, TaskRun, "run", run.pk)
        self.tasks: dict[str, dict[str, Any]] = {row["node_id"]: row for row in rows}
        self._linenos: dict[tuple[str, int], int] = {}
        self._lineno_lock = threading.Lock()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._closing = threading.Event()  # cuts the writer's gathering short: the run is over
        self._ending = False
        self.failed: BaseException | None = None
        # Called (from the writer's thread, with the error) if a write fails: the runner stops
        # the run then, as nothing more of it could be stored.
        self.on_failure: Callable[[BaseException], None] | None = None
        self._taps: tuple[collections.deque[tuple], ...] = ()  # see tap_attempts
        self._thread = threading.Thread(target=self._write_loop, name=f"recorder-{run.pk}", daemon=True)
        self._thread.start()

    # ---------------------------------------------------------------- hooks (any thread)

    def node_state(self, node_id, state, *, attempt=0, outcome=None, reason=""):
        self._queue.put(("state", node_id, state, attempt, outcome, reason, time.time()))

    def attempt_started(self, node_id, attempt, *, command, ready_at, started_at, pid):
        item = ("start", node_id, attempt, command, ready_at, started_at, pid)
        self._queue.put(item)
        for tap in self._taps:
            tap.append(item)

    def attempt_finished(self, info: ex.AttemptInfo) -> None:
        # Same thread as filter_outputs for this attempt: its warnings go with the attempt's end.
        info.warnings.extend(self._output_warnings.pop(info.node_id, ()))
        item = ("finish", info)
        self._queue.put(item)
        for tap in self._taps:
            tap.append(item)

    def tap_attempts(self) -> collections.deque[tuple]:
        """A deque that gets every attempt's start ("start", node_id, attempt, command, ready_at,
        started_at, pid) and end ("finish", AttemptInfo) as they are reported, on the thread that
        reports them: an extension that follows the attempts (tracing's spans) needs no hook of
        its own on the executor's thread, which starts the next task (two calls an attempt that
        cost a 300-task run ~1 ms). Its reader pops what it takes."""
        tap: collections.deque[tuple] = collections.deque()
        self._taps += (tap,)
        return tap

    def log(self, node_id, attempt, stream, line):
        lineno = self._next_lineno(node_id, attempt)
        # Unmasked in this process's memory only: the writer masks it before storing or sending.
        self._queue.put(("log", node_id, attempt, stream, line, time.time(), lineno))

    def _next_lineno(self, node_id: str, attempt: int) -> int:
        key = (node_id, attempt)
        with self._lineno_lock:
            lineno = self._linenos.get(key, 0) + 1
            self._linenos[key] = lineno
        return lineno

    def filter_outputs(self, node_id, outputs):
        if not outputs:  # most tasks write none: nothing to mask, on the thread that starts the next
            return outputs
        mask_mapping = getattr(self.mask, "mask_mapping", None)
        if mask_mapping is None:
            return {key: self.mask(value) for key, value in outputs.items()}
        # An output holding a secret is kept, masked, and the attempt's log says so.
        masked, warnings = mask_mapping(outputs)
        if warnings:
            self._output_warnings[node_id] = warnings
        return masked

    def progress(self, node_id, attempt, cpu_s, rss_bytes, wall_s):
        self._queue.put(("usage", node_id, attempt, cpu_s, rss_bytes, wall_s))

    def run_state(self, **fields: Any) -> None:
        """Change the run row (status, times, message) in order with everything else."""
        if "message" in fields:
            fields["message"] = self.mask(fields["message"])
        self._queue.put(("run", fields))

    def system_line(self, node_id: str, attempt: int, text: str) -> None:
        self.log(node_id, attempt, "system", text)

    def emit(
        self, event: dict[str, Any] | Callable[[], dict[str, Any] | None], store: Callable[[], Any] | None = None
    ) -> None:
        """An extension's record: `store` runs in the writer's transaction, then the event goes
        out with the run's next sequence number, in order with the task changes around it.
        `event` may be a function: the writer calls it (in emit order, before `store`) to build
        the event, so that work stays off the task threads; returning None sends nothing. An
        event's LATER key may hold a function that returns more of its fields: called only when
        the event is sent to an open page of the run, after the commit."""
        self._queue.put(("emit", event, store))

    def ending(self) -> None:
        """Every task has started or ended: from now on a small batch (fewer than ENDING_BATCH
        records) is gathered only for COALESCE, not for the longer flood window, so that the
        run's last records and its end are stored and sent without waiting behind a long batch
        (a 500-task run's final batch had taken 6-19 ms). A task flooding the writer with lines
        keeps the longer gathering: writing in small batches would cost it more CPU."""
        self._ending = True

    def close(self) -> None:
        """Flush everything and stop the writer; raises if a write failed."""
        self._queue.put(None)
        self._closing.set()
        self._thread.join()
        if self.failed is not None:
            raise self.failed

    # ---------------------------------------------------------------- writer thread

    def _write_loop(self) -> None:
        items: list[Any] = []
        try:
            self._sql = HotSql(connection)
            last_flush, flush_took, last_size = 0.0, 0.0, 0
            while True:
                items = [self._queue.get()]
                wait = self._gather_for(time.monotonic() - last_flush, flush_took, last_size)
                if wait is not None and items[0] is not None:
                    self._closing.wait(wait)
                while len(items) < MAX_BATCH and items[-1] is not None:
                    try:
                        items.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                stop = None in items
                began = time.monotonic()
                last_size = len(items)
                self._flush([i for i in items if i is not None])
                last_flush = time.monotonic()
                flush_took = last_flush - began
                if stop:
                    return
        except BaseException as exc:  # kept for close() to raise: a lost write must not pass silently
            log.exception("recorder for run %s failed", self.run_id)
            self.failed = exc
            if self.on_failure is not None:
                try:
                    self.on_failure(exc)
                except Exception:
                    log.exception("run %s: could not stop the run after its writer failed", self.run_id)
            # Keep draining until close()'s marker (unless the failed batch took it already), so
            # hook callers never block on a dead writer and close() returns.
            while None not in items:
                items = [self._queue.get()]
        finally:
            connection.close()

    def _gather_for(self, gap: float, flush_took: float, last_size: int) -> float | None:
        """How long to gather records before writing them (None: at once), `gap` seconds after
        the last write, which took `flush_took` seconds for `last_size` records.

        Adaptive group commit: after a quiet spell a record is written and sent at once; while
        the run is busy, sleep a moment (not woken by each new record) so that one transaction
        carries many, and longer while it floods us. Once the run is ending (every task started
        or ended), a small batch no longer waits for that longer window: the run's last records
        would wait behind it. A task flooding us with lines still gets it."""
        if gap >= BUSY_WINDOW:
            return None
        flooded = gap < FLOODED and not (self._ending and last_size < ENDING_BATCH)
        return min(MAX_COALESCE, max(COALESCE, FLOOD_FACTOR * flush_took)) if flooded else COALESCE

    def _flush(self, items: list[tuple]) -> None:
        if not items:
            return
        lines: list[tuple] = []
        log_events: dict[tuple[str, int], list] = {}
        new_attempts: dict[tuple[int, int], dict[str, Any]] = {}  # started in this batch
        attempt_updates: list[dict[str, Any]] = []  # started in an earlier batch
        task_updates: dict[str, dict[str, Any]] = {}
        changed: list[str] = []
        usage: dict[str, dict[str, Any]] = {}
        run_fields: dict[str, Any] = {}
        extra: list[dict[str, Any]] = []
        stores: list[Callable[[], Any]] = []
        for item in items:
            kind = item[0]
            if kind == "log":
                _, node_id, attempt, stream, text, ts, lineno = item
                code = STREAMS.get(stream, "o")
                lines.append((self.run_id, self.tasks[node_id]["id"], attempt, lineno, code, ts, text))
                log_events.setdefault((node_id, attempt), []).append([lineno, stream, ts, text])
            elif kind == "start":
                _, node_id, attempt, command, ready_at, started_at, pid = item
                task = self.tasks[node_id]
                command = self.mask(command)
                new_attempts[(task["id"], attempt)] = {
                    "taskrun": task["id"], "number": attempt, "command": command, "ready_at": _dt(ready_at),
                    "started_at": _dt(started_at), "pid": pid, "host": self.host, "status": "running",
                }  # fmt: skip
                fields = {"status": TaskRun.RUNNING, "attempts": attempt, "command": command}
                if task["started_at"] is None:
                    fields["started_at"] = _dt(started_at)
                self._change(node_id, fields, task_updates, changed)
            elif kind == "finish":
                info: ex.AttemptInfo = item[1]
                r = info.result
                task = self.tasks[info.node_id]
                end = {
                    "status": info.status, "finished_at": _dt(r.ended_at), "exit_code": r.exit_code,
                    "signal": r.signal, "wall_s": r.wall_s, "cpu_user_s": r.cpu_user_s, "cpu_sys_s": r.cpu_sys_s,
                    "peak_rss_bytes": r.peak_rss_bytes, "error": self.mask(r.error or ""),
                    "retry_delay": info.retry_delay,
                }  # fmt: skip
                started = new_attempts.get((task["id"], info.attempt))
                if started is not None:  # started and ended within one batch: one INSERT
                    started.update(end)
                else:
                    attempt_updates.append({**end, "taskrun": task["id"], "number": info.attempt})
                fields = {
                    "wall_s": (task["wall_s"] or 0.0) + r.wall_s,
                    "cpu_s": (task["cpu_s"] or 0.0) + r.cpu_s,
                    "peak_rss_bytes": max(task["peak_rss_bytes"] or 0, r.peak_rss_bytes),
                    "exit_code": r.exit_code,
                    "outputs": info.outputs,
                }
                self._change(info.node_id, fields, task_updates, changed)
                for warning in info.warnings:  # stored with the attempt's end, never after it
                    text = f"warning: {warning}"
                    lineno = self._next_lineno(info.node_id, info.attempt)
                    lines.append((self.run_id, task["id"], info.attempt, lineno, "s", time.time(), text))
                    log_events.setdefault((info.node_id, info.attempt), []).append(
                        [lineno, "system", time.time(), text]
                    )
            elif kind == "state":
                _, node_id, state, attempt, outcome, reason, ts = item
                task = self.tasks[node_id]
                fields = {
                    "status": state,
                    "reason": self.mask(reason or ""),
                    "attempts": max(attempt, task["attempts"]),
                }
                if outcome is not None and state in ex.TERMINAL:
                    fields["finished_at"] = _dt(ts)
                    fields["exit_code"] = outcome.exit_code
                    if outcome.outputs:
                        fields["outputs"] = outcome.outputs
                self._change(node_id, fields, task_updates, changed)
            elif kind == "usage":
                _, node_id, attempt, cpu_s, rss, wall_s = item
                usage[node_id] = {"kind": "usage", "node": node_id, "id": self.tasks[node_id]["id"],
                                  "attempt": attempt, "cpu_s": cpu_s, "rss_bytes": rss, "wall_s": wall_s}  # fmt: skip
            elif kind == "run":
                run_fields.update(item[1])
            elif kind == "emit":
                event = item[1]() if callable(item[1]) else item[1]
                if event is not None:
                    extra.append(event)
                if item[2] is not None:
                    stores.append(item[2])
        if lines:
            self._mask_lines(lines, log_events)
        sql = self._sql
        with transaction.atomic(), connection.cursor() as cursor:
            count = len(changed) + len(extra) + (1 if run_fields else 0)
            seqs = sql.allocate_seqs(cursor, self.run_id, count, run_fields)
            for node_id, seq in zip(changed, seqs):
                self.tasks[node_id]["seq"] = task_updates[node_id]["seq"] = seq
            if lines:
                sql.insert_lines(cursor, lines)
            if new_attempts:
                sql.insert_attempts(cursor, list(new_attempts.values()))
            if attempt_updates:
                sql.finish_attempts(cursor, attempt_updates)
            if task_updates:
                sql.update_tasks(cursor, [(self.tasks[n]["id"], fields) for n, fields in task_updates.items()])
            for store in stores:
                store()
            if connection.needs_rollback:  # a store swallowed an error: leaving would roll back
                raise TransactionManagementError(  # the whole batch, silently
                    "a run extension's store failed inside the recorder's transaction; nothing of this batch was kept"
                )
        if not watched(self.run_id):  # no page of this run open: only the run list may want the end
            if run_fields:
                publish_events(self.run_id, [run_event(self.run_id, seqs[-1], run_fields)], to_run_list=True)
            return
        events = [{"kind": "task", **task_state(self.tasks[node_id])} for node_id in changed]
        for event, seq in zip(extra, seqs[len(changed) :]):
            later = event.get(LATER)
            if later is not None:  # fields made only for a page that is open, after the commit
                event = {**{k: v for k, v in event.items() if k != LATER}, **later()}
            events.append({**event, "seq": seq})
        if run_fields:
            events.append(run_event(self.run_id, seqs[-1], run_fields))
        outgoing = events + [
            {"kind": "log", "node": node_id, "id": self.tasks[node_id]["id"], "attempt": attempt, "lines": batch}
            for (node_id, attempt), batch in log_events.items()
        ]
        outgoing += list(usage.values())
        publish_events(self.run_id, outgoing, to_run_list=bool(run_fields))

    def _mask_lines(self, lines: list[tuple], log_events: dict[tuple[str, int], list]) -> None:
        """Mask a batch's lines in place (rows and events alike) before anything stores or sends them."""
        texts = [row[6] for row in lines]
        mask_lines = getattr(self.mask, "mask_lines", None)
        masked = mask_lines(texts) if mask_lines is not None else [self.mask(text) for text in texts]
        by_line: dict[tuple[int, int, int], str] = {}
        for i, (row, text) in enumerate(zip(lines, masked)):
            if text is not row[6]:
                lines[i] = (*row[:6], text)
                by_line[(row[1], row[2], row[3])] = text
        if by_line:
            for (node_id, attempt), batch in log_events.items():
                task_id = self.tasks[node_id]["id"]
                for entry in batch:
                    text = by_line.get((task_id, attempt, entry[0]))
                    if text is not None:
                        entry[3] = text

    def _change(self, node_id: str, fields: dict[str, Any], updates: dict[str, dict], changed: list[str]) -> None:
        self.tasks[node_id].update(fields)
        updates.setdefault(node_id, {}).update(fields)
        if node_id not in changed:
            changed.append(node_id)
