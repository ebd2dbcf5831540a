"""A task's span in a run's trace: what it says when its attempt starts and ends, or when the
task ends without an attempt of its own (skipped, upstream failed, cancelled, failed to start)."""

from __future__ import annotations

import collections
import functools
import hashlib
import itertools
import logging
import re
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus

from workflows.engine import executor as ex
from workflows.engine.handle import ProcessResult
from workflows.engine.spawn import EncodedEnv, encode_entry

from .otel.spans import ERROR, OK, RUNNING, UNSET, SpanRecord, TaskContext
from .store import FAILED_ATTEMPTS, record_from_row

log = logging.getLogger("runner.tracing")
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]+")  # what quote_plus leaves as it is
NO_ATTEMPT_EVENTS = {ex.SKIPPED: "skipped", ex.UPSTREAM_FAILED: "upstream failed", ex.CANCELLED: "cancelled"}


@functools.lru_cache(maxsize=8192)
def _node_base(trace_id: str, node_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{trace_id}/{node_id}".encode(), digest_size=8).digest(), "big")


def _span_value(base: int, attempt: int) -> int:
    return (base + attempt) & 0xFFFF_FFFF_FFFF_FFFF or 1  # all zeros is no span id


def _span_hex(base: int, attempt: int) -> str:
    return f"{_span_value(base, attempt):016x}"


def attempt_span_id(trace_id: str, node_id: str, attempt: int) -> str:
    """An attempt's span id, the same whenever it is worked out, so that the span made from the
    attempt's row when it is read has the id its process was given in TRACEPARENT: a number
    drawn from the trace id (random) and the node, plus the attempt's number."""
    return _span_hex(_node_base(trace_id, node_id), attempt)


def stored_us(seconds: float) -> int:
    """Unix seconds to integer microseconds as a stored datetime keeps them (datetime.fromtimestamp
    rounds the fraction, half to even), so a span made while its attempt runs and one made later
    from the attempt's row agree to the microsecond."""
    whole = int(seconds)
    return whole * 1_000_000 + round((seconds - whole) * 1_000_000)


def node_attributes(plan: Any, node_id: str, run_pk: int) -> dict[str, Any]:
    """What every span of one node of the plan (a task, or a leg of a matrix task) says about it."""
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
    return attributes


class RunTaskSpans:
    """What the task spans of one run share: the trace, their parent (the run's span), the service,
    each node's attributes (worked out once a run), and the run's masking (looked up at each use:
    the run's extensions may add to it as it goes)."""

    def __init__(self, plan: Any, trace_id: str, root_id: str, *, run_pk: int, service: str, recorder: Any):
        self.plan, self.trace_id, self.root_id, self.run_pk = plan, trace_id, root_id, run_pk
        self.service, self.recorder = service, recorder
        self.nodes: dict[str, dict[str, Any]] = {}

    def mask(self, text: str) -> str:
        return self.recorder.mask(text)

    def attributes(self, node_id: str) -> dict[str, Any]:
        """The node's attributes (shared: copy before changing them)."""
        attributes = self.nodes.get(node_id)
        if attributes is None:
            attributes = self.nodes[node_id] = node_attributes(self.plan, node_id, self.run_pk)
        return attributes

    def record(self, node_id: str, span_id: str, start_us: int) -> SpanRecord:
        """A span for the node that is not an attempt's (see ended_without_attempt)."""
        return SpanRecord(self.trace_id, span_id, node_id, start_us, parent_id=self.root_id,
                          attributes=dict(self.attributes(node_id)), service=self.service)  # fmt: skip


class NotedAttempts:
    """The attempts of one execution of a run as the recorder saw them reported (starts and ends,
    from its tap: RunRecorder.tap_attempts), made into spans only when something needs them:
    `take` is called by the outbox for an open page of the run, a live export, or the export of
    the trace at its end. Nothing of tracing's runs per attempt on the executor's thread, which
    starts the next task."""

    def __init__(self, run: RunTaskSpans, outbox: Any, tap: collections.deque[tuple]):
        self.run, self.outbox, self.noted = run, outbox, tap
        self.lock = threading.Lock()
        self.spans: dict[tuple[str, int], AttemptSpan] = {}  # by node and attempt
        self.pending: list[tuple] = []  # taken from the tap, not made into spans yet
        self.started: set[str] = set()  # the nodes with an attempt (taken from the tap so far)
        outbox.take_noted, outbox.noted_count = self.take, self.waiting

    def waiting(self) -> int:
        """How many starts and ends are not made into spans yet."""
        return len(self.pending) + len(self.noted)

    def had_attempt(self, node_id: str) -> bool:
        """Whether the node had an attempt in this execution (reported before this call)."""
        with self.lock:
            self._drain()
            return node_id in self.started

    def _drain(self) -> None:
        noted, pending, started = self.noted, self.pending, self.started
        while noted:
            item = noted.popleft()
            if item[0] == "start":
                started.add(item[1])
            pending.append(item)

    def take(self) -> None:
        """Make the spans of what was noted since the last call and hand them to the outbox."""
        if not self.noted and not self.pending:
            return
        with self.lock:
            self._drain()
            pending, self.pending = self.pending, []
            try:
                for item in pending:
                    self._make(item)
            except Exception:  # tracing must never stop the sender: the rest of what was noted is dropped
                log.exception("tracing could not make the attempt spans of run %s", self.run.run_pk)

    def _make(self, item: tuple) -> None:
        if item[0] == "start":
            _, node_id, attempt, command, ready_at, started_at, pid = item
            span_id = attempt_span_id(self.run.trace_id, node_id, attempt)
            info = {"command": command, "ready_at": ready_at, "started_at": started_at, "pid": pid}
            span = self.spans[(node_id, attempt)] = AttemptSpan(self.run, node_id, attempt, span_id, info)
            self.outbox.note(span)
            return
        end: ex.AttemptInfo = item[1]
        span = self.spans.get((end.node_id, end.attempt))
        if span is None:
            return  # its start was not reported; nothing to end
        span.info = end  # before the span is handed over again: whoever makes its row sees the end
        self.outbox.note(span, ended=True)


class AttemptEnvironments:
    """What tracing puts into each attempt's environment: its trace context (TRACEPARENT,
    TRACESTATE, BAGGAGE) and the task's service name, unless the workflow file sets one itself,
    as entries encoded the way the start passes them on (spawn.EncodedEnv).

    What does not change between runs (a node's baggage entry, its task's service name) is kept
    with the plan, which the runs of a workflow version share; the run's part (its trace id's hash
    state, the shared entries) is made once. The first attempts' variables of the plan's first
    PREPARED nodes are made as the run starts, in one go (`prepare`: ~1.2 us a node); made one at
    a time between two starts, each took several times as long (measured in a 300-task run: ~1 ms
    of CPU more in all). Worked out by the run's writer instead, a chunk at a time, they had cost
    more again: the starts waited for the GIL meanwhile. A retry's are made as it starts."""

    PREPARED = 4096  # ~5 ms at most before the first task; a larger plan's other nodes as they start

    def __init__(self, plan: Any, context: TaskContext, trace_id: str):
        self.plan = plan
        self._nodes = _plan_nodes(plan)
        shared = {"TRACESTATE": context.tracestate} if context.tracestate else {}
        self._entries = [encode_entry(key, value) for key, value in shared.items()]
        self._names = (*shared, "TRACEPARENT", "BAGGAGE")  # a task that names its own service
        self._service_names = (*shared, "OTEL_SERVICE_NAME", "TRACEPARENT", "BAGGAGE")
        self._hash = hashlib.blake2b(f"{trace_id}/".encode(), digest_size=8)  # attempt_span_id's, up to the node
        # An attempt's two entries, made as bytes: both are ASCII (hex digits; the propagator's
        # quoting), so this is what encode_entry would make of them.
        self._traceparent = f"TRACEPARENT={context.prefix}%016x{context.flags}".encode("ascii")  # % the span id
        node_entry = f"{context.baggage}," if context.baggage else ""
        self._baggage = f"BAGGAGE={node_entry}runner.node=".encode("ascii")
        self._first: dict[str, EncodedEnv] = {}  # prepared first attempts' variables, until asked for

    def prepare(self) -> None:
        """Make the first attempts' variables of the plan's first PREPARED nodes (before the run's
        tasks start: env() is called from one thread, the executor's)."""
        first, make = self._first, self._make
        for node_id in itertools.islice(self.plan.nodes, self.PREPARED):
            first[node_id] = make(node_id, 1)

    def env(self, node_id: str, attempt: int) -> EncodedEnv:
        if attempt == 1:
            prepared = self._first.pop(node_id, None)  # asked for once: not kept after
            if prepared is not None:
                return prepared
        return self._make(node_id, attempt)

    def _make(self, node_id: str, attempt: int) -> EncodedEnv:
        name, baggage, service = self._nodes.get(node_id) or _plan_node(self.plan, self._nodes, node_id)
        digest = self._hash.copy()
        digest.update(name)
        span = _span_value(int.from_bytes(digest.digest(), "big"), attempt)  # attempt_span_id's
        traceparent, baggage = self._traceparent % span, b"%s%s%d" % (self._baggage, baggage, attempt)
        if service is None:
            return EncodedEnv(self._names, [*self._entries, traceparent, baggage])
        return EncodedEnv(self._service_names, [*self._entries, service, traceparent, baggage])


# A plan's nodes' parts of their variables that no run changes, for the last plans used (a plan
# is shared by the runs of its workflow version, and kept here with its parts).
_PLANS: collections.OrderedDict[int, tuple[Any, dict[str, tuple[bytes, bytes, bytes | None]]]] = (
    collections.OrderedDict()
)
_PLANS_LOCK = threading.Lock()
PLANS_KEPT = 32


def _plan_nodes(plan: Any) -> dict[str, tuple[bytes, bytes, bytes | None]]:
    with _PLANS_LOCK:
        found = _PLANS.get(id(plan))
        if found is not None and found[0] is plan:
            _PLANS.move_to_end(id(plan))
            return found[1]
        nodes: dict[str, tuple[bytes, bytes, bytes | None]] = {}
        _PLANS[id(plan)] = (plan, nodes)
        while len(_PLANS) > PLANS_KEPT:
            _PLANS.popitem(last=False)
        return nodes


def _plan_node(
    plan: Any, nodes: dict[str, tuple[bytes, bytes, bytes | None]], node_id: str
) -> tuple[bytes, bytes, bytes | None]:
    """A node's part: its id as its span ids' hash takes it, its baggage entry as the W3C
    propagator writes it (the key needs no quoting) up to the attempt's number, and its task's
    OTEL_SERVICE_NAME entry (None: the workflow file sets one). Any thread may make it: each
    makes the same."""
    task, spec = plan.nodes[node_id].task, plan.spec
    service = None
    if "OTEL_SERVICE_NAME" not in task.env and "OTEL_SERVICE_NAME" not in spec.env:
        service = encode_entry("OTEL_SERVICE_NAME", f"{spec.name}.{task.id}")
    quoted = node_id if _PLAIN.fullmatch(node_id) else quote_plus(node_id)
    part = nodes[node_id] = (node_id.encode(), f"{quoted},runner.attempt=".encode("ascii"), service)
    return part


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


def _micro(seconds: float) -> float:
    """A non-negative figure in seconds to the microsecond (round(x, 6) took four times as long)."""
    return int(seconds * 1_000_000 + 0.5) / 1_000_000


def _ended(attributes: dict[str, Any], events: list[dict[str, Any]], info: ex.AttemptInfo, *,
           timeout: float | None, mask: Callable[[str], str]) -> tuple[int, str, str]:  # fmt: skip
    """The attempt's figures and events; its end, status and message. Events are in a span row's
    shape (SpanEvent.as_dict's)."""
    r = info.result
    end = stored_us(r.ended_at)
    attributes["runner.status"] = info.status
    if r.exit_code is not None:
        attributes["process.exit_code"] = r.exit_code
    if r.signal is not None:
        attributes["runner.signal"] = r.signal
    user, system = r.cpu_user_s, r.cpu_sys_s
    if r.wall_s is not None:  # None: an attempt lost with its worker
        attributes["runner.wall_s"] = _micro(r.wall_s)
    if user is not None and system is not None:
        attributes["runner.cpu_s"] = _micro(user + system)
        attributes["runner.cpu_user_s"] = _micro(user)
        attributes["runner.cpu_sys_s"] = _micro(system)
    if r.peak_rss_bytes:
        attributes["runner.peak_rss_bytes"] = r.peak_rss_bytes
    status, message = OK, ""
    if info.status == "timeout":
        status, message = ERROR, f"timed out after {timeout:g}s"
        events.append({"ts_us": end, "name": "timeout", "attributes": {"timeout_s": timeout}})
    elif info.status == "cancelled":
        status = UNSET
        events.append({"ts_us": end, "name": "cancelled", "attributes": {"reason": "the run was cancelled"}})
    elif info.status in FAILED_ATTEMPTS:  # failed, or lost with its worker
        status = ERROR
        if r.error:
            message = mask(r.error)
        elif r.signal:
            message = f"killed by signal {r.signal}"
        else:
            message = f"exit code {r.exit_code}"
    if info.retry_delay is not None:
        retry = {"delay_s": round(info.retry_delay, 3), "next_attempt": info.attempt + 1}
        events.append({"ts_us": end, "name": "retry scheduled", "attributes": retry})
    return end, status, message


class AttemptSpan:
    """An attempt's span as the facts the executor gave, or as the attempt's row stored them
    (`from_stored`): the same facts, so the same row, to the microsecond.

    The executor's own thread, which starts the run's next task, only notes them. The span's row
    (tracing.store's shape) is made only when someone asks: the run's writer makes it for the span
    event when the run's page is open, tracing.attempt_spans makes it from the attempt's row when
    spans are read, and a SpanRecord is made from it only for an exporter. The facts do not change
    once noted, except `info`, set once when the attempt ends, so a row made at any time says all
    that is known then.

    The span runs from when the task was ready: its queue wait, then its process."""

    __slots__ = ("_command", "attempt", "command", "info", "node_id", "pid", "ready_at", "run", "span_id",
                 "started_at")  # fmt: skip

    def __init__(self, run: RunTaskSpans, node_id: str, attempt: int, span_id: str, info: dict[str, Any]):
        self.run, self.node_id, self.attempt, self.span_id = run, node_id, attempt, span_id
        self.started_at = info["started_at"]
        self.ready_at = info.get("ready_at") or self.started_at
        self.command, self.pid = info.get("command") or "", info.get("pid")
        self.info: ex.AttemptInfo | None = None  # set when it ends
        self._command: str | None = None  # masked, once

    @classmethod
    def from_stored(cls, run: RunTaskSpans, node_id: str, row: dict[str, Any]) -> AttemptSpan:
        """The span of an attempt as its row (TaskAttempt's values) stores it. The row's command
        and error were masked when they were stored."""
        started = row["started_at"].timestamp()
        ready = row["ready_at"]
        facts = {"started_at": started, "ready_at": ready.timestamp() if ready else None, "command": row["command"],
                 "pid": row["pid"]}  # fmt: skip
        span = cls(run, node_id, row["number"], attempt_span_id(run.trace_id, node_id, row["number"]), facts)
        span._command = row["command"]
        finished: datetime | None = row["finished_at"]
        if row["status"] != "running" and finished is not None:
            result = ProcessResult(
                exit_code=row["exit_code"], signal=row["signal"], started_at=started, ended_at=finished.timestamp(),
                wall_s=row["wall_s"], cpu_user_s=row["cpu_user_s"], cpu_sys_s=row["cpu_sys_s"],
                peak_rss_bytes=row["peak_rss_bytes"] or 0, error=row["error"] or None, pid=row["pid"],
            )  # fmt: skip
            span.info = ex.AttemptInfo(node_id, row["number"], result, row["status"], {}, [], row["retry_delay"])
        return span

    def row(self, taskrun_id: int | None = None, attempt: int | None = None) -> dict[str, Any]:
        run = self.run
        command = self._command
        if command is None:
            command = self._command = run.mask(self.command)
        started = stored_us(self.started_at)
        start = min(stored_us(self.ready_at), started)
        attributes = {
            **run.attributes(self.node_id),
            "runner.attempt": self.attempt,
            "runner.status": "running",
            "runner.queue_wait_s": (started - start) / 1_000_000,
            "process.command_line": command,
        }
        pid = self.pid
        if pid:
            attributes["process.pid"] = pid
        events = [{"ts_us": started, "name": "process started", "attributes": {} if pid is None else {"pid": pid}}]
        duration, status, message = None, RUNNING, ""
        info = self.info
        if info is not None:
            timeout = run.plan.nodes[self.node_id].task.timeout
            end, status, message = _ended(attributes, events, info, timeout=timeout, mask=run.mask)
            duration = max(0, end - start)
        return {
            "span_id": self.span_id,
            "parent_id": run.root_id,
            "name": self.node_id[:300],
            "kind": "internal",
            "service": run.service[:200],
            "source": "runner",
            "start_us": start,
            "duration_us": duration,
            "status": status,
            "status_message": message,
            "attributes": attributes,
            "events": events,
            "taskrun": taskrun_id,
            "attempt": attempt,
        }

    def record(self) -> SpanRecord:
        """The span for an exporter."""
        return record_from_row(self.run.trace_id, self.row())
