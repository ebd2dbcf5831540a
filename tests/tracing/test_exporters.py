"""The exporters really send a run's trace: Zipkin JSON v2 and OTLP/HTTP (protobuf), each to a
tiny local HTTP server in the test that speaks that collector's wire protocol, plus the console.
"""

from __future__ import annotations

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.tracing.conftest import run_now
from tracing import telemetry
from tracing.models import Trace

pytestmark = [pytest.mark.django_db(transaction=True)]
FLOW = "name: shipped\ntasks:\n  extract: {run: 'true'}\n  load: {run: 'exit 4', needs: [extract]}\n"


def test_zipkin_json_reaches_a_zipkin_collector(settings, monkeypatch, receiver):
    monkeypatch.setenv("OTEL_EXPORTER_ZIPKIN_ENDPOINT", f"{receiver.url}/api/v2/spans")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "runner-under-test")
    settings.TRACING = {"exporters": ["zipkin"]}
    run = run_now(FLOW)
    assert telemetry.telemetry().force_flush()
    trace = Trace.objects.get(run=run)
    spans = {span["name"]: span for span in receiver.zipkin_spans()}
    assert set(spans) == {"run shipped #1", "extract", "load"}
    assert {s["traceId"] for s in spans.values()} == {trace.trace_id}
    assert spans["extract"]["parentId"] == spans["load"]["parentId"] == trace.root_span_id
    assert spans["load"]["tags"]["error"] == "exit code 4" and spans["load"]["tags"]["process.exit_code"] == "4"
    assert spans["extract"]["localEndpoint"]["serviceName"] == "runner-under-test"
    assert {r["path"] for r in receiver.requests} == {"/api/v2/spans"}


def test_otlp_http_reaches_an_otlp_receiver(settings, monkeypatch, receiver):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
    settings.TRACING = {"exporters": ["otlp"]}
    run = run_now(FLOW)
    assert telemetry.telemetry().force_flush()
    assert {r["path"] for r in receiver.requests} == {"/v1/traces"}
    assert receiver.requests[0]["headers"]["content-type"] == "application/x-protobuf"
    spans, resources = {}, []
    for request in receiver.requests:
        message = ExportTraceServiceRequest.FromString(request["body"])
        for resource_spans in message.resource_spans:
            resources.append({a.key: a.value.string_value for a in resource_spans.resource.attributes})
            for scope in resource_spans.scope_spans:
                spans.update({span.name: span for span in scope.spans})
    assert resources[0]["service.name"] == "script-runner" and resources[0]["host.name"]
    assert resources[0]["service.version"] and resources[0]["deployment.environment"] == "test"
    trace = Trace.objects.get(run=run)
    assert {s.trace_id.hex() for s in spans.values()} == {trace.trace_id}
    assert spans["load"].parent_span_id.hex() == trace.root_span_id
    assert spans["load"].status.code == 2 and spans["load"].status.message == "exit code 4"  # STATUS_CODE_ERROR
    attributes = {a.key: a.value for a in spans["extract"].attributes}
    assert attributes["runner.task"].string_value == "extract" and attributes["runner.attempt"].int_value == 1


def test_the_console_exporter_prints_the_spans(settings, capsys):
    settings.TRACING = {"exporters": ["console"]}
    run_now("name: printed\ntasks:\n  a: {run: 'true'}\n")
    telemetry.telemetry().force_flush()
    out = capsys.readouterr().out
    assert '"name": "run printed #1"' in out and '"name": "a"' in out


def test_without_an_exporter_nothing_leaves_the_process_but_the_trace_is_stored(receiver):
    run = run_now("name: local\ntasks:\n  a: {run: 'true'}\n")
    assert not telemetry.telemetry().exporting and receiver.requests == []
    assert Trace.objects.get(run=run).span_count == 2
