"""Workflows over the API: list, read, add, change (new versions), delete, validate, trigger."""

from __future__ import annotations

import json

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.factories import ETL, add_run, add_workflow
from workflows.models import Run, Workflow, WorkflowVersion

SIMPLE = "name: simple\ntasks:\n  a: {run: 'true'}\n"
BROKEN = """name: broken
tasks:
  a: {run: "true"}
  b: {run: "true", needs: [nope]}
"""


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


def test_list_shows_each_workflow_with_its_last_run(client_as):
    etl = add_workflow()
    add_run(etl, Run.FAILED)
    last = add_run(etl, Run.SUCCESS)
    add_workflow(SIMPLE)
    response = client_as("viewer").get("/api/workflows/")
    assert response.status_code == 200
    rows = {row["name"]: row for row in response.json()["results"]}
    assert rows["etl"]["description"] == "nightly load"
    assert rows["etl"]["version"] == 1 and rows["etl"]["tags"] == {"team": "data"} and rows["etl"]["schedule"] == ""
    assert rows["etl"]["last_run"]["id"] == last.pk
    assert rows["etl"]["last_run"]["status"] == "success"
    assert rows["simple"]["last_run"] is None


def test_list_takes_the_same_queries_for_many_workflows(client_as):
    client = client_as("viewer")
    for n in range(2):
        add_run(add_workflow(SIMPLE.replace("simple", f"wf{n}")))
    with CaptureQueriesContext(connection) as few:
        client.get("/api/workflows/")
    for n in range(2, 8):
        add_run(add_workflow(SIMPLE.replace("simple", f"wf{n}")))
    with CaptureQueriesContext(connection) as many:
        response = client.get("/api/workflows/")
    assert len(response.json()["results"]) == 8
    assert len(many) == len(few)


def test_retrieve_includes_source_params_and_tasks(client_as):
    workflow = add_workflow()
    response = client_as("viewer").get(f"/api/workflows/{workflow.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["source"] == ETL and body["format"] == "yaml"
    assert body["tasks"] == ["extract", "load"]
    assert body["params"] == [
        {"name": "day", "default": "today", "description": "which day", "required": False, "choices": None},
        {"name": "mode", "default": "full", "description": "", "required": False, "choices": ["full", "delta"]},
    ]


def test_operator_adds_a_workflow(client_as, users):
    response = post(client_as("operator"), "/api/workflows/", {"source": SIMPLE, "base_dir": "/srv/jobs"})
    assert response.status_code == 201
    workflow = Workflow.objects.get(name="simple")
    assert response.json()["id"] == workflow.pk
    assert response["Location"] == f"/api/workflows/{workflow.pk}/"
    assert (workflow.base_dir, workflow.format, workflow.created_by) == ("/srv/jobs", "yaml", users["operator"])
    assert list(workflow.versions.values_list("version", flat=True)) == [1]


def test_it_detects_a_json_workflow(client_as):
    source = json.dumps({"name": "from_json", "tasks": {"a": {"run": "true"}}})
    response = post(client_as("operator"), "/api/workflows/", {"source": source})
    assert response.status_code == 201
    assert response.json()["format"] == "json"
    assert Workflow.objects.get(name="from_json").format == "json"


def test_an_invalid_workflow_is_400_with_line_and_field(client_as):
    response = post(client_as("operator"), "/api/workflows/", {"source": BROKEN})
    assert response.status_code == 400
    body = response.json()
    assert body["errors"] == [{"line": 4, "field": "tasks.b.needs", "message": "unknown task 'nope'"}]
    assert body["detail"] == "the workflow is invalid: line 4: tasks.b.needs: unknown task 'nope'"
    assert not Workflow.objects.exists()


def test_a_declared_format_that_does_not_match_is_invalid(client_as):
    response = post(client_as("operator"), "/api/workflows/", {"source": SIMPLE, "format": "json"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith("invalid JSON")
    assert not Workflow.objects.exists()


def test_adding_a_name_that_exists_is_409(client_as):
    existing = add_workflow(SIMPLE)
    response = post(client_as("operator"), "/api/workflows/", {"source": SIMPLE + "description: again\n"})
    assert response.status_code == 409
    assert f"PUT /api/workflows/{existing.pk}/" in response.json()["detail"]
    assert Workflow.objects.get().version == 1


def test_a_relative_base_dir_is_refused(client_as):
    response = post(client_as("operator"), "/api/workflows/", {"source": SIMPLE, "base_dir": "jobs"})
    assert response.status_code == 400
    assert response.json()["detail"] == "base_dir: must be an absolute path"


def test_put_new_source_adds_a_version(client_as, users):
    workflow = add_workflow(SIMPLE)
    changed = SIMPLE.replace("'true'", "'echo changed'")
    response = client_as("operator").put(
        f"/api/workflows/{workflow.pk}/", {"source": changed}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["version"] == 2
    workflow.refresh_from_db()
    assert (workflow.version, workflow.source) == (2, changed)
    assert WorkflowVersion.objects.get(workflow=workflow, version=2).created_by == users["operator"]


def test_put_the_same_source_keeps_the_version(client_as):
    workflow = add_workflow(SIMPLE)
    response = client_as("operator").put(
        f"/api/workflows/{workflow.pk}/", {"source": SIMPLE}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["version"] == 1
    assert workflow.versions.count() == 1


def test_put_without_source_is_400(client_as):
    workflow = add_workflow(SIMPLE)
    response = client_as("operator").put(f"/api/workflows/{workflow.pk}/", {}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"] == "source: This field is required."


def test_patch_base_dir_alone_changes_no_version(client_as):
    workflow = add_workflow(SIMPLE)
    response = client_as("operator").patch(
        f"/api/workflows/{workflow.pk}/", {"base_dir": "/opt/work"}, content_type="application/json"
    )
    assert response.status_code == 200
    workflow.refresh_from_db()
    assert (workflow.base_dir, workflow.version) == ("/opt/work", 1)


def test_patch_with_an_invalid_source_changes_nothing(client_as):
    workflow = add_workflow(SIMPLE)
    response = client_as("operator").patch(
        f"/api/workflows/{workflow.pk}/",
        {"source": BROKEN.replace("broken", "simple")},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "tasks.b.needs"
    workflow.refresh_from_db()
    assert (workflow.version, workflow.source) == (1, SIMPLE)


def test_renaming_onto_another_workflow_is_409(client_as):
    add_workflow(SIMPLE)
    other = add_workflow(SIMPLE.replace("simple", "other"))
    response = client_as("operator").put(
        f"/api/workflows/{other.pk}/", {"source": SIMPLE}, content_type="application/json"
    )
    assert response.status_code == 409
    assert "already named 'simple'" in response.json()["detail"]
    other.refresh_from_db()
    assert other.name == "other"


def test_admin_deletes_a_workflow_with_its_runs(client_as):
    workflow = add_workflow()
    add_run(workflow, Run.SUCCESS)
    response = client_as("admin").delete(f"/api/workflows/{workflow.pk}/")
    assert response.status_code == 204
    assert not Workflow.objects.exists() and not Run.objects.exists() and not WorkflowVersion.objects.exists()


def test_a_workflow_with_an_active_run_cannot_be_deleted(client_as):
    workflow = add_workflow()
    add_run(workflow, Run.RUNNING)
    response = client_as("admin").delete(f"/api/workflows/{workflow.pk}/")
    assert response.status_code == 409
    assert "cancel them first" in response.json()["detail"]
    assert Workflow.objects.filter(pk=workflow.pk).exists()


def test_validate_says_valid(client_as):
    response = post(client_as("viewer"), "/api/workflows/validate/", {"source": SIMPLE})
    assert response.status_code == 200
    assert response.json() == {"valid": True, "errors": []}
    assert not Workflow.objects.exists()


def test_validate_lists_every_error_with_200(client_as):
    source = "name: v\ntasks:\n  a: {run: 'true', timeout: -1}\n  b: {rnu: x}\n"
    response = post(client_as("viewer"), "/api/workflows/validate/", {"source": source})
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is False
    assert [(e["line"], e["field"]) for e in body["errors"]] == [
        (3, "tasks.a.timeout"),
        (4, "tasks.b.rnu"),
        (4, "tasks.b.run"),
    ]


def test_versions_lists_every_saved_source_newest_first(client_as):
    workflow = add_workflow(SIMPLE)
    second = SIMPLE.replace("'true'", "'false'")
    client = client_as("operator")
    client.put(f"/api/workflows/{workflow.pk}/", {"source": second}, content_type="application/json")
    response = client.get(f"/api/workflows/{workflow.pk}/versions/")
    assert response.status_code == 200
    assert [(v["version"], v["source"], v["created_by"]) for v in response.json()] == [
        (2, second, "operator"),
        (1, SIMPLE, None),
    ]


def test_operator_triggers_a_run_with_params(client_as, users):
    workflow = add_workflow()
    response = post(client_as("operator"), f"/api/workflows/{workflow.pk}/runs/", {"params": {"mode": "delta"}})
    assert response.status_code == 201
    run = Run.objects.get()
    assert response.json()["id"] == run.pk and response.json()["status"] == "queued"
    assert response["Location"] == f"/api/runs/{run.pk}/"
    assert run.params == {"day": "today", "mode": "delta"}
    assert (run.trigger, run.triggered_by, run.number) == ("api", users["operator"], 1)
    assert [t["node_id"] for t in response.json()["tasks"]] == ["extract", "load"]


def test_trigger_without_a_body_uses_the_defaults(client_as):
    workflow = add_workflow()
    response = client_as("operator").post(f"/api/workflows/{workflow.pk}/runs/")
    assert response.status_code == 201
    assert Run.objects.get().params == {"day": "today", "mode": "full"}


def test_a_bad_param_is_400_with_the_runners_message(client_as):
    workflow = add_workflow()
    response = post(client_as("operator"), f"/api/workflows/{workflow.pk}/runs/", {"params": {"mode": "partial"}})
    assert response.status_code == 400
    assert response.json()["detail"] == "params: parameter 'mode' must be one of: full, delta"
    assert not Run.objects.exists()


def test_an_unknown_param_is_400(client_as):
    workflow = add_workflow()
    response = post(client_as("operator"), f"/api/workflows/{workflow.pk}/runs/", {"params": {"dya": "x"}})
    assert response.status_code == 400
    assert "unknown parameter 'dya'" in response.json()["detail"]
    assert not Run.objects.exists()
