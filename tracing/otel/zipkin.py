"""Zipkin v2 JSON spans (what a child script's Zipkin exporter sends) to span records.

Checks every field it uses and names the span and field of the first problem, so a client
gets one clear message and nothing of a bad batch is stored.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .spans import ERROR, OK, UNSET, SpanEvent, SpanRecord

HEX16 = re.compile(r"^[0-9a-f]{16}$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")
MAX_SPANS = 10_000
MAX_NAME = 300
MAX_TAGS = 256
MAX_VALUE = 4096
KINDS = {"CLIENT": "client", "SERVER": "server", "PRODUCER": "producer", "CONSUMER": "consumer"}
# Tags the OpenTelemetry Zipkin encoders add for the status; they become our status, not attributes.
STATUS_TAGS = ("otel.status_code", "otel.status_description", "error")


class ZipkinError(ValueError):
    pass


def _hex(value: Any, where: str, width: int) -> str:
    pattern = HEX32 if width == 32 else HEX16
    if not isinstance(value, str):
        raise ZipkinError(f"{where}: must be a hex string")
    text = value.lower()
    if width == 32 and len(text) == 16:
        text = text.rjust(32, "0")  # a 64-bit trace id is the low half of a 128-bit one
    if not pattern.match(text) or not text.strip("0"):
        raise ZipkinError(f"{where}: must be {width} hex digits (not all zero), not {value!r}"[:200])
    return text


def _micros(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value > 2**62:
        raise ZipkinError(f"{where}: must be a number of microseconds")
    return int(value)


def parse_spans(data: Any, trace_id: str | None = None) -> list[SpanRecord]:
    """Validate a decoded Zipkin v2 body (a list of spans); `trace_id` restricts it to one trace."""
    if not isinstance(data, list):
        raise ZipkinError("the body must be a JSON list of Zipkin v2 spans")
    if len(data) > MAX_SPANS:
        raise ZipkinError(f"at most {MAX_SPANS} spans per request, not {len(data)}")
    records = [parse_span(item, index) for index, item in enumerate(data)]
    if trace_id is not None:
        for index, record in enumerate(records):
            if record.trace_id != trace_id:
                raise ZipkinError(
                    f"span {index}: traceId {record.trace_id} is not this run's trace ({trace_id}); "
                    "start spans from TRACEPARENT"
                )
    return records


def parse_span(item: Any, index: int) -> SpanRecord:
    at = f"span {index}"
    if not isinstance(item, dict):
        raise ZipkinError(f"{at}: must be a JSON object")
    for key in ("traceId", "id", "timestamp"):
        if key not in item:
            raise ZipkinError(f"{at}: {key} is required")
    trace_id = _hex(item["traceId"], f"{at}: traceId", 32)
    span_id = _hex(item["id"], f"{at}: id", 16)
    parent_id = _hex(item["parentId"], f"{at}: parentId", 16) if item.get("parentId") else ""
    start = _micros(item["timestamp"], f"{at}: timestamp")
    duration = _micros(item.get("duration", 0), f"{at}: duration")
    name = item.get("name") or ""
    if not isinstance(name, str):
        raise ZipkinError(f"{at}: name must be a string")
    kind = item.get("kind")
    if kind is not None and kind not in KINDS:
        raise ZipkinError(f"{at}: kind must be one of {', '.join(KINDS)}")
    endpoint = item.get("localEndpoint") or {}
    if not isinstance(endpoint, dict):
        raise ZipkinError(f"{at}: localEndpoint must be an object")
    service = endpoint.get("serviceName") or ""
    if not isinstance(service, str):
        raise ZipkinError(f"{at}: localEndpoint.serviceName must be a string")
    tags = item.get("tags") or {}
    if not isinstance(tags, dict) or len(tags) > MAX_TAGS:
        raise ZipkinError(f"{at}: tags must be an object of at most {MAX_TAGS} string values")
    attributes: dict[str, Any] = {}
    for key, value in tags.items():
        if not isinstance(value, (str, int, float, bool)):
            raise ZipkinError(f"{at}: tags.{key}: must be a string")
        if key not in STATUS_TAGS:
            attributes[str(key)[:200]] = str(value)[:MAX_VALUE]
    status, message = _status(tags)
    record = SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent_id,
        name=name[:MAX_NAME],
        start_us=start,
        end_us=start + duration,
        kind=KINDS.get(kind, "internal") if kind else "internal",
        status=status,
        status_message=message[:MAX_VALUE],
        attributes=attributes,
        service=service[:200],
        source="child",
    )
    annotations = item.get("annotations") or []
    if not isinstance(annotations, list):
        raise ZipkinError(f"{at}: annotations must be a list")
    for number, annotation in enumerate(annotations):
        where = f"{at}: annotations[{number}]"
        if not isinstance(annotation, dict) or not isinstance(annotation.get("value"), str):
            raise ZipkinError(f"{where}: must be an object with timestamp and value")
        record.events.append(_event(_micros(annotation.get("timestamp"), f"{where}.timestamp"), annotation["value"]))
    return record


def _status(tags: dict[str, Any]) -> tuple[str, str]:
    code = str(tags.get("otel.status_code", "")).upper()
    if code == "ERROR" or "error" in tags:
        return ERROR, str(tags.get("error") or tags.get("otel.status_description") or "")
    if code == "OK":
        return OK, ""
    return UNSET, ""


def _event(ts_us: int, value: str) -> SpanEvent:
    """OpenTelemetry's encoder writes an event as the JSON {"name": {attributes}}; others write text."""
    try:
        decoded = json.loads(value)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict) and len(decoded) == 1:
        ((name, attributes),) = decoded.items()
        if isinstance(attributes, dict):
            return SpanEvent(ts_us, str(name)[:MAX_NAME], attributes)
    return SpanEvent(ts_us, value[:MAX_NAME])
