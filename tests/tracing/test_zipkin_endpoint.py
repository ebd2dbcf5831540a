"""POST /api/v2/spans: Zipkin v2 JSON from a task's script, with the run's token, joins its trace."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.tracing.conftest import traced_run, zipkin_span
from tracing.models import Span, Trace
from workflows.models import Run

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
URL = "/api/v2/spans"


def basic(token: str, user: str = "run-1") -> str:
    return "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()


def post(client, body, auth: str | None = None):
    extra = {"HTTP_AUTHORIZATION": auth} if auth else {}
    return client.post(URL, data=json.dumps(body), content_type="application/json", **extra)


def test_spans_sent_with_the_run_token_are_stored_under_their_parent(client):
    run, trace, task_span = traced_run("secret-token")
    seq_before = Run.objects.get(pk=run.pk).last_seq
    response = post(client, [zipkin_span(trace.trace_id, task_span.span_id)], basic("secret-token"))
    assert response.status_code == 202 and response.json() == {"accepted": 1}
    span = Span.objects.get(trace=trace, span_id="00f067aa0ba902b7")
    assert (span.parent_id, span.source, span.service, span.duration_us) == (task_span.span_id, "child", "child", 1500)
    assert span.attributes == {"db.system": "sqlite"} and span.taskrun_id == task_span.taskrun_id
    # One run event (with the run's next sequence number) carries the batch to the run page.
    assert Run.objects.get(pk=run.pk).last_seq == seq_before + 1
    assert Trace.objects.get(pk=trace.pk).span_count == 3


def test_a_bearer_token_works_too(client):
    _run, trace, task_span = traced_run("bearer-token")
    response = post(client, [zipkin_span(trace.trace_id, task_span.span_id)], "Bearer bearer-token")
    assert response.status_code == 202


def test_without_credentials_the_answer_is_401_with_a_challenge(client):
    _run, trace, task_span = traced_run()
    response = post(client, [zipkin_span(trace.trace_id, task_span.span_id)])
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Basic")
    assert not Span.objects.filter(source="child").exists()


def test_an_unknown_token_is_refused(client):
    _run, trace, task_span = traced_run("right")
    response = post(client, [zipkin_span(trace.trace_id, task_span.span_id)], basic("wrong"))
    assert response.status_code == 401 and "unknown run token" in response.json()["detail"]


def test_a_token_expires_some_minutes_after_its_run_ended(client):
    run, trace, task_span = traced_run("old", status="success")
    Run.objects.filter(pk=run.pk).update(finished_at=timezone.now() - timedelta(minutes=11))
    response = post(client, [zipkin_span(trace.trace_id, task_span.span_id)], basic("old"))
    assert response.status_code == 401 and "has expired" in response.json()["detail"]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"timestamp": None}, "span 0: timestamp: must be a number of microseconds"),
        ({"id": "xyz"}, "span 0: id: must be 16 hex digits"),
        ({"kind": "SIDEWAYS"}, "span 0: kind must be one of CLIENT, SERVER, PRODUCER, CONSUMER"),
        ({"tags": {"nested": {"a": 1}}}, "span 0: tags.nested: must be a string"),
        (
            {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736"},
            "span 0: traceId 4bf92f3577b34da6a3ce929d0e0e4736 is not this run's trace",
        ),
    ],
)
def test_a_bad_span_is_a_400_naming_it_and_nothing_is_stored(client, change, message):
    _run, trace, task_span = traced_run()
    good = zipkin_span(trace.trace_id, task_span.span_id, span_id="1111111111111111")
    bad = {**zipkin_span(trace.trace_id, task_span.span_id), **change}
    response = post(client, [bad, good], basic("tok-123"))
    assert response.status_code == 400 and response.json()["detail"].startswith(message)
    assert not Span.objects.filter(source="child").exists()


def test_the_body_must_be_a_list(client):
    _run, _trace, _span = traced_run()
    response = client.post(URL, data="{not json", content_type="application/json", HTTP_AUTHORIZATION=basic("tok-123"))
    assert response.status_code == 400 and "JSON" in response.json()["detail"]


def test_a_script_cannot_overwrite_the_runners_own_spans(client):
    _run, trace, task_span = traced_run()
    forged = zipkin_span(trace.trace_id, "", span_id=task_span.span_id, name="forged")
    response = post(client, [forged], basic("tok-123"))
    assert response.status_code == 400 and "runner's own spans" in response.json()["detail"]
    assert Span.objects.get(pk=task_span.pk).name == "a"


def test_a_span_sent_again_replaces_its_first_copy(client):
    _run, trace, task_span = traced_run()
    post(client, [zipkin_span(trace.trace_id, task_span.span_id, duration=10)], basic("tok-123"))
    post(client, [zipkin_span(trace.trace_id, task_span.span_id, duration=20)], basic("tok-123"))
    assert list(Span.objects.filter(source="child").values_list("duration_us", flat=True)) == [20]


def test_a_kept_traces_child_spans_are_exported_at_once(client, settings, monkeypatch, receiver):
    """The export goes to a tiny local HTTP server speaking Zipkin's collector API (tests/tracing/conftest.py)."""
    from tracing import telemetry

    monkeypatch.setenv("OTEL_EXPORTER_ZIPKIN_ENDPOINT", f"{receiver.url}/api/v2/spans")
    settings.TRACING = {"exporters": ["zipkin"]}
    _run, trace, task_span = traced_run(sampled=True)
    post(client, [zipkin_span(trace.trace_id, task_span.span_id)], basic("tok-123"))
    telemetry.telemetry().force_flush()
    [span] = receiver.zipkin_spans()
    assert (span["id"], span["parentId"], span["localEndpoint"]["serviceName"]) == (
        "00f067aa0ba902b7",
        task_span.span_id,
        "child",
    )


def test_a_dropped_trace_keeps_no_late_spans_when_only_kept_traces_are_stored(client, settings):
    settings.TRACING = {"store": "sampled"}
    _run, trace, task_span = traced_run(sampled=False)
    response = post(client, [zipkin_span(trace.trace_id, task_span.span_id)], basic("tok-123"))
    assert response.status_code == 202 and response.json() == {"accepted": 0}
    assert not Span.objects.filter(source="child").exists()
