"""One TracerProvider per process: resource attributes, and exporters chosen by configuration.

Export happens off the hot path: finished spans are handed to the SDK's BatchSpanProcessor
(one per exporter), whose own thread encodes and sends them in batches (OTEL_BSP_* tune it).
"""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import Sampler

from .config import TracingConfig
from .sampling import head_sampler
from .spans import SpanRecord, to_readable

log = logging.getLogger("runner.tracing")

DEFAULT_SERVICE = "script-runner"


def build_resource(service_version: str = "", extra: Mapping[str, Any] | None = None) -> Resource:
    """service.name/version and host.name, then OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
    (read by the SDK's detector), which win over our defaults."""
    from opentelemetry.sdk.resources import OTELResourceDetector

    defaults: dict[str, Any] = {"service.name": DEFAULT_SERVICE, "host.name": socket.gethostname()}
    if service_version:
        defaults["service.version"] = service_version
    defaults.update(extra or {})
    return Resource.create(defaults).merge(OTELResourceDetector().detect())


def make_exporter(name: str) -> SpanExporter:
    """Each exporter reads its own standard variables (endpoint, headers, timeout)."""
    if name == "zipkin":
        from opentelemetry.exporter.zipkin.json import ZipkinExporter

        return ZipkinExporter()
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if name == "console":
        return ConsoleSpanExporter(out=sys.stdout)  # the stdout of now, not of the SDK's import
    raise ValueError(f"unknown exporter {name!r}")


class Telemetry:
    """The process's TracerProvider with its exporters; `export()` takes finished span records."""

    def __init__(self, config: TracingConfig, *, service_version: str = "", sampler: Sampler | None = None):
        self.config = config
        self.resource = build_resource(service_version)
        self.service_name = str(self.resource.attributes.get("service.name", DEFAULT_SERVICE))
        self.provider = TracerProvider(resource=self.resource, sampler=sampler or head_sampler(config.sampling))
        self.processors: list[BatchSpanProcessor] = []
        for name in config.exporters:
            processor = BatchSpanProcessor(make_exporter(name))
            self.provider.add_span_processor(processor)
            self.processors.append(processor)
        self._resources: dict[str, Resource] = {self.service_name: self.resource}

    @property
    def exporting(self) -> bool:
        return bool(self.processors)

    def resource_for(self, record: SpanRecord) -> Resource:
        """Our spans carry our resource; a child script's keep their own service name."""
        service = record.service or self.service_name
        resource = self._resources.get(service)
        if resource is None:
            resource = self._resources[service] = Resource.create({"service.name": service})
        return resource

    def export(self, records: Iterable[SpanRecord]) -> int:
        """Queue finished spans for every exporter; returns how many were queued."""
        if not self.processors:
            return 0
        count = 0
        for record in records:
            if record.end_us is None:
                continue
            readable = to_readable(record, self.resource_for(record))
            for processor in self.processors:
                processor.on_end(readable)
            count += 1
        return count

    def force_flush(self, timeout_millis: int = 10000) -> bool:
        return self.provider.force_flush(timeout_millis)

    def shutdown(self) -> None:
        try:
            self.provider.shutdown()
        except Exception:  # shutting down must never raise into the caller's own clean-up
            log.exception("tracing shutdown failed")
