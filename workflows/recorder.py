"""Stores what the executor reports and publishes it, from one writer thread per run.

Executor threads only put records on a queue. The writer takes everything waiting, writes it in
one transaction (group commit: busy runs get big batches, idle runs get low latency), allocates
the run's sequence numbers in that same transaction, and publishes after the commit, so a
browser's snapshot and the events after it always agree.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.db import close_old_connections, connection, transaction
from django.db.models import F

from dashboard.events import publish_events

from .engine import executor as ex
from .models import LogLine, Run, TaskAttempt, TaskRun, task_state

log = logging.getLogger("runner.recorder")
MAX_BATCH = 5000
STREAMS = {"stdout": LogLine.STDOUT, "stderr": LogLine.STDERR, "system": LogLine.SYSTEM}


def _dt(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, tz=UTC) if ts is not None else None


def _iso(ts: float | None) -> str | None:
    return _dt(ts).isoformat() if ts is not None else None


class RunRecorder(ex.Hooks):
    progress_interval = 1.0

    def __init__(self, run: Run, mask: Callable[[str], str] | None = None):
        self.run_id = run.pk
        self.mask = mask or (lambda text: text)
        self.host = socket.gethostname()
        rows = TaskRun.objects.filter(run_id=run.pk).values()
        self.tasks: dict[str, dict[str, Any]] = {row["node_id"]: row for row in rows}
        self._linenos: dict[tuple[str, int], int] = {}
        self._lineno_lock = threading.Lock()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write_loop, name=f"recorder-{run.pk}", daemon=True)
        self._thread.start()
        self.failed: BaseException | None = None

    # ---------------------------------------------------------------- hooks (any thread)

    def node_state(self, node_id, state, *, attempt=0, outcome=None, reason=""):
        self._queue.put(("state", node_id, state, attempt, outcome, reason, time.time()))

    def attempt_started(self, node_id, attempt, *, command, ready_at, started_at, pid):
        self._queue.put(("start", node_id, attempt, command, ready_at, started_at, pid))

    def attempt_finished(self, info: ex.AttemptInfo) -> None:
        self._queue.put(("finish", info))

    def log(self, node_id, attempt, stream, line):
        key = (node_id, attempt)
        with self._lineno_lock:
            lineno = self._linenos.get(key, 0) + 1
            self._linenos[key] = lineno
        self._queue.put(("log", node_id, attempt, stream, self.mask(line), time.time(), lineno))

    def filter_outputs(self, node_id, outputs):
        return {key: self.mask(value) for key, value in outputs.items()}

    def progress(self, node_id, attempt, cpu_s, rss_bytes, wall_s):
        self._queue.put(("usage", node_id, attempt, cpu_s, rss_bytes, wall_s))

    def run_state(self, **fields: Any) -> None:
        """Change the run row (status, times, message) in order with everything else."""
        if "message" in fields:
            fields["message"] = self.mask(fields["message"])
        self._queue.put(("run", fields))

    def system_line(self, node_id: str, attempt: int, text: str) -> None:
        self.log(node_id, attempt, "system", text)

    def close(self) -> None:
        """Flush everything and stop the writer; raises if a write failed."""
        self._queue.put(None)
        self._thread.join()
        if self.failed is not None:
            raise self.failed

    # ---------------------------------------------------------------- writer thread

    def _write_loop(self) -> None:
        try:
            while True:
                items = [self._queue.get()]
                while len(items) < MAX_BATCH:
                    try:
                        items.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                stop = None in items
                self._flush([i for i in items if i is not None])
                if stop:
                    return
        except BaseException as exc:  # kept for close() to raise: a lost write must not pass silently
            log.exception("recorder for run %s failed", self.run_id)
            self.failed = exc
            while True:  # keep draining so hook callers never block on a dead writer
                if self._queue.get() is None:
                    return
        finally:
            connection.close()

    def _flush(self, items: list[tuple]) -> None:
        if not items:
            return
        close_old_connections()
        lines: list[LogLine] = []
        log_events: dict[tuple[str, int], list] = {}
        new_attempts: list[TaskAttempt] = []
        attempt_updates: list[tuple[int, int, dict[str, Any]]] = []
        task_updates: dict[str, dict[str, Any]] = {}
        changed: list[str] = []
        usage: dict[str, dict[str, Any]] = {}
        run_fields: dict[str, Any] = {}
        for item in items:
            kind = item[0]
            if kind == "log":
                _, node_id, attempt, stream, text, ts, lineno = item
                task = self.tasks[node_id]
                lines.append(
                    LogLine(
                        run_id=self.run_id, taskrun_id=task["id"], attempt=attempt, lineno=lineno,
                        stream=STREAMS.get(stream, "o"), ts=ts, text=text,
                    )  # fmt: skip
                )
                log_events.setdefault((node_id, attempt), []).append([lineno, STREAMS.get(stream, "o"), ts, text])
            elif kind == "start":
                _, node_id, attempt, command, ready_at, started_at, pid = item
                task = self.tasks[node_id]
                new_attempts.append(
                    TaskAttempt(
                        taskrun_id=task["id"], number=attempt, command=self.mask(command), ready_at=_dt(ready_at),
                        started_at=_dt(started_at), pid=pid, host=self.host,
                    )  # fmt: skip
                )
                fields = {"status": TaskRun.RUNNING, "attempts": attempt, "command": self.mask(command)}
                if task["started_at"] is None:
                    fields["started_at"] = _dt(started_at)
                self._change(node_id, fields, task_updates, changed)
            elif kind == "finish":
                info: ex.AttemptInfo = item[1]
                r = info.result
                task = self.tasks[info.node_id]
                attempt_updates.append(
                    (
                        task["id"],
                        info.attempt,
                        {
                            "status": info.status, "finished_at": _dt(r.ended_at), "exit_code": r.exit_code,
                            "signal": r.signal, "wall_s": r.wall_s, "cpu_user_s": r.cpu_user_s,
                            "cpu_sys_s": r.cpu_sys_s, "peak_rss_bytes": r.peak_rss_bytes,
                            "error": self.mask(r.error or ""), "retry_delay": info.retry_delay,
                        },
                    )  # fmt: skip
                )
                fields = {
                    "wall_s": (task["wall_s"] or 0.0) + r.wall_s,
                    "cpu_s": (task["cpu_s"] or 0.0) + r.cpu_s,
                    "peak_rss_bytes": max(task["peak_rss_bytes"] or 0, r.peak_rss_bytes),
                    "exit_code": r.exit_code,
                    "outputs": info.outputs,
                }
                self._change(info.node_id, fields, task_updates, changed)
                for warning in info.warnings:
                    self.log(info.node_id, info.attempt, "system", f"warning: {warning}")
            elif kind == "state":
                _, node_id, state, attempt, outcome, reason, ts = item
                task = self.tasks[node_id]
                fields = {"status": state, "reason": self.mask(reason or ""), "attempts": max(attempt, task["attempts"])}
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
        with transaction.atomic():
            seqs = _allocate_seqs(self.run_id, len(changed) + (1 if run_fields else 0), run_fields)
            for node_id, seq in zip(changed, seqs):
                self.tasks[node_id]["seq"] = task_updates[node_id]["seq"] = seq
            if lines:
                LogLine.objects.bulk_create(lines)
            if new_attempts:
                TaskAttempt.objects.bulk_create(new_attempts)
            for taskrun_id, number, fields in attempt_updates:
                TaskAttempt.objects.filter(taskrun_id=taskrun_id, number=number).update(**fields)
            for node_id, fields in task_updates.items():
                TaskRun.objects.filter(pk=self.tasks[node_id]["id"]).update(**fields)
        events = [{"kind": "task", **task_state(self.tasks[node_id])} for node_id in changed]
        if run_fields:
            events.append({"kind": "run", "id": self.run_id, "seq": seqs[-1], **_run_event(run_fields)})
        outgoing = events + [
            {"kind": "log", "node": node_id, "id": self.tasks[node_id]["id"], "attempt": attempt, "lines": batch}
            for (node_id, attempt), batch in log_events.items()
        ]
        outgoing += list(usage.values())
        publish_events(self.run_id, outgoing, to_run_list=bool(run_fields))

    def _change(self, node_id: str, fields: dict[str, Any], updates: dict[str, dict], changed: list[str]) -> None:
        self.tasks[node_id].update(fields)
        updates.setdefault(node_id, {}).update(fields)
        if node_id not in changed:
            changed.append(node_id)


def _allocate_seqs(run_id: int, count: int, run_fields: dict[str, Any]) -> list[int]:
    """The run's next `count` sequence numbers; call inside the transaction that stores the events."""
    if not count:
        return []
    Run.objects.filter(pk=run_id).update(last_seq=F("last_seq") + count, **run_fields)
    last = Run.objects.filter(pk=run_id).values_list("last_seq", flat=True).get()
    return list(range(last - count + 1, last + 1))


def commit_changes(
    run_id: int,
    *,
    task_fields: dict[int, dict[str, Any]] | None = None,
    run_fields: dict[str, Any] | None = None,
    to_run_list: bool = False,
) -> list[dict[str, Any]]:
    """Store changes made outside a running run (queueing, cancel, recovery) and publish them."""
    task_fields = task_fields or {}
    run_fields = dict(run_fields or {})
    with transaction.atomic():
        seqs = _allocate_seqs(run_id, len(task_fields) + (1 if run_fields else 0), run_fields)
        for (pk, fields), seq in zip(task_fields.items(), seqs):
            TaskRun.objects.filter(pk=pk).update(seq=seq, **fields)
        rows = TaskRun.objects.filter(pk__in=task_fields).order_by("seq").values()
        events = [{"kind": "task", **task_state(row)} for row in rows]
        if run_fields:
            events.append({"kind": "run", "id": run_id, "seq": seqs[-1], **_run_event(run_fields)})
    publish_events(run_id, events, to_run_list=to_run_list)
    return events


def _run_event(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in fields.items()}
