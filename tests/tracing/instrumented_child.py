"""A task script instrumented with OpenTelemetry as a user writes one: its parent context from the
environment (TRACEPARENT, BAGGAGE), its spans through the SDK's Zipkin exporter to the endpoint it is given."""

import os
import sys
import time

from opentelemetry import propagate, trace
from opentelemetry.exporter.zipkin.json import ZipkinExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(ZipkinExporter()))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("child-script")
parent = propagate.extract({key.lower(): value for key, value in os.environ.items()})
with tracer.start_as_current_span("load rows", context=parent) as span:
    span.set_attribute("rows", 42)
    span.add_event("batch read", {"batch": 1})
    with tracer.start_as_current_span("parse"):
        time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0.05)
provider.shutdown()
print("done")
