"""A task's span in a run's trace: what it says when its attempt starts and ends, or when the
task ends without an attempt of its own (skipped, upstream failed, cancelled, failed to start)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workflows.engine import executor as ex

from .otel.spans import ERROR, OK, UNSET, SpanRecord, us

NO_ATTEMPT_EVENTS = {ex.SKIPPED: "skipped", ex.UPSTREAM_FAILED: "upstream failed", ex.CANCELLED: "cancelled"}


def task_span(plan: Any, node_id: str, trace_id: str, span_id: str, parent_id: str, start_us: int, *,
              run_pk: int, service: str) -> SpanRecord:  # fmt: skip
    """A span for one node of the plan (a task, or a leg of a matrix task), not started yet."""
    node = plan.nodes[node_id]
    attributes: dict[str, Any] = {
        "runner.workflow": plan.spec.name,
        "runner.run.id": run_pk,
        "runner.task": node.task.id,
        "runner.node": node_id,
    }
    if node.leg is not None:
        attributes["runner.matrix"] = node.leg_key
        for key, value in node.leg.items():
            attributes[f"runner.matrix.{key}"] = value if isinstance(value, (str, int, float, bool)) else str(value)
    return SpanRecord(trace_id, span_id, node_id, start_us, parent_id=parent_id, attributes=attributes, service=service)


def attempt_started(record: SpanRecord, attempt: int, *, ready_at: float, started_at: float, command: str,
                    pid: int | None) -> None:  # fmt: skip
    """The span runs from when the task was ready: its queue wait, then its process."""
    record.attributes.update(
        {
            "runner.attempt": attempt,
            "runner.status": "running",
            "runner.queue_wait_s": round(max(0.0, started_at - ready_at), 6),
            "process.command_line": command,
        }
    )
    if pid:
        record.attributes["process.pid"] = pid
    record.add_event(us(started_at), "process started", pid=pid)


def attempt_finished(record: SpanRecord, info: ex.AttemptInfo, *, timeout: float | None,
                     mask: Callable[[str], str]) -> bool:  # fmt: skip
    """End the span with the attempt's figures, status and events; True if a retry follows."""
    r = info.result
    end = us(r.ended_at)
    record.attributes.update(
        {
            "runner.status": info.status,
            "process.exit_code": r.exit_code,
            "runner.signal": r.signal,
            "runner.wall_s": round(r.wall_s, 6),
            "runner.cpu_s": round(r.cpu_s, 6),
            "runner.cpu_user_s": round(r.cpu_user_s, 6),
            "runner.cpu_sys_s": round(r.cpu_sys_s, 6),
            "runner.peak_rss_bytes": r.peak_rss_bytes or None,
        }
    )
    record.attributes = {k: v for k, v in record.attributes.items() if v is not None}
    status, message = OK, ""
    if info.status == "timeout":
        status, message = ERROR, f"timed out after {timeout:g}s"
        record.add_event(end, "timeout", timeout_s=timeout)
    elif info.status == "cancelled":
        status = UNSET
        record.add_event(end, "cancelled", reason="the run was cancelled")
    elif info.status == "failed":
        status = ERROR
        if r.error:
            message = mask(r.error)
        elif r.signal:
            message = f"killed by signal {r.signal}"
        else:
            message = f"exit code {r.exit_code}"
    if info.retry_delay is not None:
        record.add_event(end, "retry scheduled", delay_s=round(info.retry_delay, 3), next_attempt=info.attempt + 1)
    record.end(end, status, message)
    return info.retry_delay is not None


def ended_without_attempt(record: SpanRecord, state: str, reason: str, task: Any, now_us: int) -> None:
    """A zero-length span that says why the task did not run (or failed before it could)."""
    record.attributes["runner.status"] = state
    if state == ex.FAILED:
        record.end(now_us, ERROR, reason or "failed")
        return
    attributes: dict[str, Any] = {"reason": reason}
    if state == ex.SKIPPED and task.skip_if and reason.startswith("skip_if"):
        attributes["condition"] = task.skip_if
    record.add_event(now_us, NO_ATTEMPT_EVENTS[state], **attributes)
    record.end(now_us, UNSET)


class AttemptSpan:
    """An attempt's span as the facts the executor gave, made into its SpanRecord only when
    something needs it (the writer storing it, an exporter), in that thread. The executor's own
    thread, which starts the run's next task, only notes them: on a 500-task run the tracing
    extension's (`ext`) two hooks took about half the time they did when it made the record
    itself. The record is made once, and its end applied once, whichever thread asks first."""

    __slots__ = ("_record", "attempt", "command", "ext", "info", "node_id", "pid", "ready_at", "span_id",
                 "started_at")  # fmt: skip

    def __init__(self, ext: Any, node_id: str, attempt: int, span_id: str, info: dict[str, Any]):
        self.ext, self.node_id, self.attempt, self.span_id = ext, node_id, attempt, span_id
        self.started_at = info["started_at"]
        self.ready_at = info.get("ready_at") or self.started_at
        self.command, self.pid = info.get("command") or "", info.get("pid")
        self.info: ex.AttemptInfo | None = None  # set (before the span is handed over again) when it ends
        self._record: SpanRecord | None = None

    def record(self) -> SpanRecord:
        ext = self.ext
        with ext.build_lock:
            record = self._record
            if record is None:
                record = ext._node_record(self.node_id, us(min(self.ready_at, self.started_at)), self.span_id)
                attempt_started(
                    record, self.attempt, ready_at=self.ready_at, started_at=self.started_at,
                    command=ext.recorder.mask(self.command), pid=self.pid,
                )  # fmt: skip
                self._record = record
            info = self.info
            if info is not None and record.end_us is None:  # ended, and not applied yet
                timeout = ext.plan.nodes[self.node_id].task.timeout
                attempt_finished(record, info, timeout=timeout, mask=ext.recorder.mask)
            return record
