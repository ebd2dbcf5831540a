"""The REST API for traces and spans: search, detail, compare; viewers read, nobody writes."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.tracing.conftest import run_now
from tracing.models import Trace

pytestmark = [pytest.mark.django_db(transaction=True)]
FAST = "name: fast\ntags: {team: data}\ntasks:\n  extract: {run: 'true'}\n"
BROKEN = "name: broken\ntasks:\n  extract: {run: 'true'}\n  load: {run: 'sleep 0.2; exit 1', needs: [extract]}\n"


@pytest.fixture
def api(users) -> APIClient:
    client = APIClient()
    client.force_authenticate(users["viewer"])
    return client


@pytest.fixture
def runs():
    return {"fast": run_now(FAST), "broken": run_now(BROKEN)}


def ids(response) -> set[str]:
    assert response.status_code == 200, response.json()
    return {row["workflow"] for row in response.json()["results"]}


def test_traces_are_searched_by_workflow_status_duration_and_attribute(api, runs):
    assert ids(api.get("/api/tracing/traces/")) == {"fast", "broken"}
    assert ids(api.get("/api/tracing/traces/", {"workflow": "fast"})) == {"fast"}
    assert ids(api.get("/api/tracing/traces/", {"status": "failed"})) == {"broken"}
    assert ids(api.get("/api/tracing/traces/", {"min_duration": "0.2"})) == {"broken"}
    assert ids(api.get("/api/tracing/traces/", {"max_duration": "0.15"})) == {"fast"}
    assert ids(api.get("/api/tracing/traces/", {"attribute": "runner.task=load"})) == {"broken"}
    assert ids(api.get("/api/tracing/traces/", {"attribute": "process.exit_code=1"})) == {"broken"}
    assert ids(api.get("/api/tracing/traces/", {"attribute": "runner.tag.team=data"})) == {"fast"}
    assert ids(api.get("/api/tracing/traces/", {"run": runs["fast"].pk})) == {"fast"}


@pytest.mark.parametrize(
    "params, message",
    [
        ({"status": "exploded"}, "status: unknown status 'exploded'"),
        ({"min_duration": "soon"}, "min_duration: must be a number of seconds"),
        ({"attribute": "no-equals-sign"}, "attribute: write it as key=value"),
    ],
)
def test_a_bad_filter_is_a_400_with_a_message(api, params, message):
    response = api.get("/api/tracing/traces/", params)
    assert response.status_code == 400 and response.json()["detail"].startswith(message)


def test_a_trace_comes_with_its_spans_in_start_order(api, runs):
    trace = Trace.objects.get(run=runs["broken"])
    body = api.get(f"/api/tracing/traces/{trace.trace_id}/").json()
    assert [s["name"] for s in body["spans"]] == ["run broken #1", "extract", "load"]
    assert body["status"] == "failed" and body["error_count"] == 2 and body["sampled"] is True
    assert body["spans"][2]["status_message"] == "exit code 1" and body["spans"][2]["taskrun"] is not None
    assert "token_hash" not in body


def test_spans_can_be_listed_and_filtered(api, runs):
    trace = Trace.objects.get(run=runs["broken"])
    rows = api.get("/api/tracing/spans/", {"trace": trace.trace_id, "status": "error"}).json()["results"]
    assert [r["name"] for r in rows] == ["run broken #1", "load"]
    one = api.get(f"/api/tracing/spans/{rows[1]['id']}/").json()
    assert one["span_id"] == rows[1]["span_id"] and one["trace_id"] == trace.trace_id


def test_two_traces_compare_span_by_span(api, runs):
    a, b = Trace.objects.get(run=runs["fast"]), Trace.objects.get(run=runs["broken"])
    body = api.get("/api/tracing/traces/compare/", {"a": a.trace_id, "b": b.trace_id}).json()
    rows = {row["name"]: row for row in body["spans"]}
    assert rows["(the whole run)"]["delta_us"] > 150_000  # B took the 0.2 s sleep longer
    assert rows["extract"]["a"] and rows["extract"]["b"]
    assert rows["load"]["a"] is None and rows["load"]["b_status"] == "error"


def test_comparing_needs_two_known_traces(api, runs):
    a = Trace.objects.get(run=runs["fast"])
    assert api.get("/api/tracing/traces/compare/", {"a": a.trace_id}).status_code == 400
    missing = api.get("/api/tracing/traces/compare/", {"a": a.trace_id, "b": "0" * 31 + "1"})
    assert missing.status_code == 404 and missing.json()["detail"].startswith("b: no trace")


def test_reading_traces_needs_a_login_and_nobody_writes(api, runs):
    assert APIClient().get("/api/tracing/traces/").status_code == 401
    assert api.post("/api/tracing/traces/", {}).status_code == 403
    assert Trace.objects.count() == 2
    assert APIClient().get("/api/tracing/nothing-here").json()["detail"].startswith("no API endpoint")


def test_the_schema_documents_the_tracing_endpoints(client_as):
    paths = client_as("viewer").get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    assert {"/api/tracing/traces/", "/api/tracing/traces/{trace_id}/", "/api/tracing/traces/compare/",
            "/api/tracing/spans/", "/api/tracing/spans/{id}/", "/api/v2/spans"} <= set(paths)  # fmt: skip
    assert paths["/api/v2/spans"]["post"]["security"] == [{"runToken": []}]
