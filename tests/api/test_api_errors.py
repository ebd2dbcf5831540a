"""Bad requests get a 4xx JSON answer with a "detail" message, never a 500: bodies, params and ids."""

from __future__ import annotations

import json

import pytest

from tests.api.factories import add_attempt, add_lines, add_run, add_workflow
from workflows.models import Run, Workflow

BAD_BODIES = [
    "{not json",
    "[1, 2]",
    '"a string"',
    "null",
    "12",
    '{"source": ' + "[" * 5_000 + "]" * 5_000 + "}",
    json.dumps({"source": 5, "format": "xml", "base_dir": ["x"]}),
    json.dumps({"source": None, "params": None, "failed_only": None}),
    json.dumps({"source": ["name: x"], "params": "day=1", "failed_only": "maybe"}),
    json.dumps({"source": "[" * 5_000, "params": [1, 2]}),
    json.dumps({"source": "a: " + "{a: " * 1_000, "params": {"day": {"deep": [1, {"x": None}]}}}),
    json.dumps({"source": "\x00", "base_dir": "\x00"}),
    json.dumps({"source": "name: x\ntasks: {a: {run: 'true'}}\n", "base_dir": "/" + "a" * 2000}),
    json.dumps({"source": "x" * 1_000_001}),
    json.dumps({"username": {"a": 1}, "password": ["pw"]}),
]
BAD_QUERIES = [
    "attempt=abc&after=1e3&limit=-5&lines=x",
    "attempt=99999999999999999999999&after=99999999999999999999999&limit=99999999999999999999999",
    "attempt=" + "9" * 5000,
    "workflow=99999999999999999999999&status=%00&created_after=yesterday&created_before=2025-02-30",
    "workflow=%C2%B2&created_after=0000-00-00T25:61:00&cursor=not-a-cursor",
    "cursor=cD0yMDI1&limit=abc",
    "status=running&created_after=2025-01-01T00:00:00%2B99:00",
]


@pytest.fixture
def urls(db) -> list[str]:
    """Every API URL, for an existing object and for ids that do not exist."""
    workflow = add_workflow()
    run = add_run(workflow, Run.FAILED, tasks={"extract": "failed"})
    task = run.tasks.get(node_id="extract")
    add_attempt(task, 1, "failed")
    add_lines(task, 1, 3)
    real = [
        "/api/token/", "/api/workflows/", "/api/workflows/validate/", f"/api/workflows/{workflow.pk}/",
        f"/api/workflows/{workflow.pk}/versions/", f"/api/workflows/{workflow.pk}/runs/", "/api/runs/",
        f"/api/runs/{run.pk}/", f"/api/runs/{run.pk}/cancel/", f"/api/runs/{run.pk}/rerun/",
        f"/api/taskruns/{task.pk}/", f"/api/taskruns/{task.pk}/logs/", f"/api/taskruns/{task.pk}/logs/tail/",
    ]  # fmt: skip
    missing = []
    for bad_id in ("999999", "99999999999999999999999", "abc"):
        missing += [u.replace(f"/{workflow.pk}/", f"/{bad_id}/").replace(f"/{run.pk}/", f"/{bad_id}/") for u in real]
        missing += [u.replace(f"/{task.pk}/", f"/{bad_id}/") for u in real if "taskruns" in u]
    return real + sorted(set(missing) - set(real))


def assert_answered(response, what: str) -> None:
    assert response.status_code < 500, what
    if response.status_code >= 400:
        assert isinstance(response.json()["detail"], str) and response.json()["detail"], what


def test_malformed_bodies_never_cause_a_500(client_as, urls):
    client = client_as("admin")
    for url in urls:
        # PUT and PATCH only exist on a workflow; elsewhere they are a cheap 405.
        methods = ("post", "put", "patch") if url.startswith("/api/workflows/") else ("post",)
        for body in BAD_BODIES:
            for method in methods:
                response = getattr(client, method)(url, body, content_type="application/json")
                assert_answered(response, f"{method.upper()} {url} {body[:60]!r}")
    assert Workflow.objects.count() == 1


def test_form_encoded_and_non_utf8_bodies_are_refused_politely(client_as, urls):
    client = client_as("admin")
    for url in urls:
        assert_answered(client.post(url, b"\xff\xfe\x00", content_type="application/json"), f"bytes {url}")
        assert_answered(client.post(url, {"source": "x", "params": "y"}), f"form {url}")
        assert_answered(client.post(url, "<a/>", content_type="application/xml"), f"xml {url}")


def test_malformed_query_parameters_never_cause_a_500(client_as, urls):
    client = client_as("admin")
    for url in urls:
        for query in BAD_QUERIES:
            for method in ("get", "options"):
                response = getattr(client, method)(f"{url}?{query}")
                assert response.status_code < 500, f"{method.upper()} {url}?{query}"
    assert Workflow.objects.count() == 1


def test_the_browsable_api_renders_every_page(client_as, urls):
    client = client_as("admin")
    for url in urls:
        response = client.get(url, HTTP_ACCEPT="text/html")
        assert response.status_code < 500, url
    assert client.get("/api/runs/", HTTP_ACCEPT="text/html")["Content-Type"].startswith("text/html")


def test_malformed_json_is_400_with_a_message(client_as):
    response = client_as("operator").post("/api/workflows/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


def test_a_deeply_nested_body_is_400(client_as):
    body = '{"params": ' + "[" * 5_000 + "]" * 5_000 + "}"
    workflow = add_workflow()
    response = client_as("operator").post(f"/api/workflows/{workflow.pk}/runs/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"] == "the request is nested too deeply"
    assert not Run.objects.exists()


def test_a_deeply_nested_workflow_is_invalid_not_an_error(client_as):
    response = client_as("viewer").post(
        "/api/workflows/validate/", {"source": "a: " + "[" * 1_000}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json() == {
        "valid": False,
        "errors": [{"line": 1, "field": "", "message": "nested more than 64 levels deep"}],
    }


def test_wrong_types_are_400_naming_the_field(client_as):
    workflow = add_workflow()
    response = client_as("operator").post(
        f"/api/workflows/{workflow.pk}/runs/", {"params": ["day"]}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("params: ")
    assert not Run.objects.exists()


def test_a_non_boolean_failed_only_is_400(client_as):
    run = add_run(add_workflow(), Run.FAILED, tasks={"extract": "failed"})
    response = client_as("operator").post(
        f"/api/runs/{run.pk}/rerun/", {"failed_only": "maybe"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "failed_only: Must be a valid boolean."
    assert Run.objects.count() == 1


@pytest.mark.parametrize(
    "url", ["/api/workflows/999/", "/api/runs/999/", "/api/taskruns/999/", "/api/taskruns/999/logs/"]
)
def test_unknown_ids_are_404_json(client_as, url):
    response = client_as("viewer").get(url)
    assert response.status_code == 404
    assert response.json()["detail"]


def test_an_unknown_run_cannot_be_cancelled(client_as):
    response = client_as("operator").post("/api/runs/424242/cancel/")
    assert response.status_code == 404
    assert response.json()["detail"] == "No Run matches the given query."


def test_a_wrong_method_is_405_json(client_as):
    response = client_as("admin").delete("/api/runs/")
    assert response.status_code == 405
    assert response.json()["detail"] == 'Method "DELETE" not allowed.'
