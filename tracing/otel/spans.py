"""Span records: what the runner knows about a span, and their conversions.

A run's spans are built from facts the executor reports after the fact (an attempt's queue
wait is known only once it starts), and a resumed run must keep its trace id, so spans are
plain records here and become OpenTelemetry `ReadableSpan`s only for export.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

from opentelemetry import baggage as otel_baggage
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

RUNNING, OK, ERROR, UNSET = "running", "ok", "error", "unset"
KINDS = ("internal", "server", "client", "producer", "consumer")
_KIND = {
    "internal": SpanKind.INTERNAL,
    "server": SpanKind.SERVER,
    "client": SpanKind.CLIENT,
    "producer": SpanKind.PRODUCER,
    "consumer": SpanKind.CONSUMER,
}
_STATUS = {OK: StatusCode.OK, ERROR: StatusCode.ERROR}


# Ids come from `random` as in the SDK's own RandomIdGenerator: they must be unique, not secret,
# and os.urandom would give up the GIL on each call (costly with a busy run's threads waiting).
def new_trace_id() -> str:
    while True:  # all-zero ids are invalid in W3C trace context
        value = random.getrandbits(128)
        if value:
            return f"{value:032x}"


def new_span_id() -> str:
    while True:
        value = random.getrandbits(64)
        if value:
            return f"{value:016x}"


@dataclass
class SpanEvent:
    ts_us: int
    name: str
    attributes: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"ts_us": self.ts_us, "name": self.name, "attributes": self.attributes}


@dataclass
class SpanRecord:
    """One span; times are Unix microseconds (Zipkin's unit), `end_us` None while it runs."""

    trace_id: str
    span_id: str
    name: str
    start_us: int
    parent_id: str = ""
    end_us: int | None = None
    kind: str = "internal"
    status: str = UNSET  # unset, ok, error (running while end_us is None)
    status_message: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[SpanEvent] = field(default_factory=list)
    service: str = ""
    source: str = "runner"  # runner (made by the dashboard) or child (sent by a task's script)

    @property
    def duration_us(self) -> int | None:
        return None if self.end_us is None else max(0, self.end_us - self.start_us)

    def end(self, end_us: int, status: str | None = None, message: str = "") -> None:
        self.end_us = max(end_us, self.start_us)
        if status is not None:
            self.status = status
        if message:
            self.status_message = message

    def add_event(self, ts_us: int, name: str, **attributes: Any) -> None:
        self.events.append(SpanEvent(ts_us, name, {k: v for k, v in attributes.items() if v is not None}))


def us(seconds: float) -> int:
    """Unix seconds (time.time()) to integer microseconds."""
    return int(round(seconds * 1_000_000))


# ------------------------------------------------------------------ export


SCOPE = InstrumentationScope("script-runner.tracing", None)


def _attribute(value: Any) -> Any:
    """OpenTelemetry attribute values are str, bool, int, float or lists of one of those."""
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, bool, int, float)) for v in value):
        return list(value)
    return str(value)


def _attributes(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _attribute(value) for key, value in values.items() if value is not None}


def to_readable(record: SpanRecord, resource: Resource, sampled: bool = True) -> ReadableSpan:
    """The SDK's view of a finished span, for any SpanExporter (Zipkin, OTLP, console)."""
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    trace_id = int(record.trace_id, 16)
    context = SpanContext(trace_id, int(record.span_id, 16), is_remote=False, trace_flags=flags)
    parent = None
    if record.parent_id:
        parent = SpanContext(trace_id, int(record.parent_id, 16), is_remote=record.source == "child", trace_flags=flags)
    end_us = record.end_us if record.end_us is not None else record.start_us
    code = _STATUS.get(record.status, StatusCode.UNSET)
    # A description is only allowed with ERROR (the SDK warns otherwise).
    status = Status(code, record.status_message or None) if code is StatusCode.ERROR else Status(code)
    return ReadableSpan(
        name=record.name,
        context=context,
        parent=parent,
        resource=resource,
        attributes=_attributes(record.attributes),
        events=[Event(e.name, _attributes(e.attributes), timestamp=e.ts_us * 1000) for e in record.events],
        kind=_KIND.get(record.kind, SpanKind.INTERNAL),
        status=status,
        start_time=record.start_us * 1000,
        end_time=end_us * 1000,
        instrumentation_scope=SCOPE,
    )


# ------------------------------------------------------------------ propagation into a task


_TRACECONTEXT = TraceContextTextMapPropagator()
_BAGGAGE = W3CBaggagePropagator()


def context_env(
    trace_id: str,
    span_id: str,
    *,
    sampled: bool,
    state: Mapping[str, str] | None = None,
    baggage: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """TRACEPARENT, TRACESTATE and BAGGAGE for a child process, written by the SDK's own W3C
    propagators (environment variables as carriers: the header names, upper-cased)."""
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    span_context = SpanContext(
        int(trace_id, 16),
        int(span_id, 16),
        is_remote=False,
        trace_flags=flags,
        trace_state=TraceState(list((state or {}).items())),
    )
    ctx: Context = set_span_in_context(NonRecordingSpan(span_context))
    for key, value in (baggage or {}).items():
        ctx = otel_baggage.set_baggage(key, value, context=ctx)
    carrier: dict[str, str] = {}
    _TRACECONTEXT.inject(carrier, context=ctx)
    _BAGGAGE.inject(carrier, context=ctx)
    return {key.upper(): value for key, value in carrier.items()}


@functools.lru_cache(maxsize=4096)
def _baggage_entry(key: str, value: str) -> str:
    """One `key=value` of a BAGGAGE header (a run's node names and attempt numbers repeat)."""
    return f"{quote_plus(key)}={quote_plus(value)}"


class TaskContext:
    """The trace context of one run's tasks, for many attempts: the SDK's propagators write the
    parts every task shares once; each attempt fills in its own span id and baggage entries in
    the same W3C formats, so the per-attempt cost stays a few string joins."""

    def __init__(
        self,
        trace_id: str,
        *,
        sampled: bool,
        state: Mapping[str, str] | None = None,
        baggage: Mapping[str, str] | None = None,
    ):
        shared = context_env(trace_id, "0000000000000001", sampled=sampled, state=state, baggage=baggage)
        head, _, tail = shared["TRACEPARENT"].rpartition("-0000000000000001-")
        self.prefix, self.flags = f"{head}-", f"-{tail}"
        self.tracestate = shared.get("TRACESTATE", "")
        self.baggage = shared.get("BAGGAGE", "")

    def env(self, span_id: str, baggage: Mapping[str, str] | None = None) -> dict[str, str]:
        return self.env_with(span_id, self.baggage_with(baggage or {}))

    def baggage_with(self, baggage: Mapping[str, str]) -> str:
        """The BAGGAGE value: the shared entries, then these (to keep for a node's attempts)."""
        entries = [self.baggage] if self.baggage else []
        entries += [_baggage_entry(key, value) for key, value in baggage.items()]
        return ",".join(entries)

    def env_with(self, span_id: str, baggage: str) -> dict[str, str]:
        """TRACEPARENT for the span, TRACESTATE, and BAGGAGE as given (baggage_with's form)."""
        env = {"TRACEPARENT": f"{self.prefix}{span_id}{self.flags}"}
        if self.tracestate:
            env["TRACESTATE"] = self.tracestate
        if baggage:
            env["BAGGAGE"] = baggage
        return env
