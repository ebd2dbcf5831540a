"""A provider's scope names the workflows (or tags) that may read its secrets. Operators may
write workflows, so the names and tags a scope matches are the admins' to hand out: an operator
cannot create a workflow in a scope, nor rename or re-tag one into it (else naming a workflow
`etl_steal` would read the production secrets). Editing a workflow already in the scope stays
an operator's job; a scope open to every workflow (`*`) restricts nothing."""

from __future__ import annotations

import json

import pytest

from workflows.models import Workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def prod(make_provider):
    return make_provider("vault-prod", workflows=["etl_*"], tags=["env=prod"])


def source(name: str, tags: dict | None = None) -> str:
    body = {"name": name, "tasks": {"a": {"run": "true", "secrets": {"PW": "vault-prod:db/prod#password"}}}}
    return json.dumps({**body, "tags": tags} if tags else body)


def post(client, text: str):
    return client.post("/api/workflows/", {"source": text}, content_type="application/json")


def put(client, workflow: Workflow, text: str):
    return client.put(f"/api/workflows/{workflow.pk}/", {"source": text}, content_type="application/json")


def test_an_operator_cannot_create_a_workflow_a_scope_matches(client_as, prod):
    response = post(client_as("operator"), source("etl_steal"))
    assert response.status_code == 403
    assert response.json()["detail"] == (
        "workflow 'etl_steal' would be in the scope of secret provider 'vault-prod' "
        "(workflows etl_*; tags env=prod): only an admin may create a workflow into that scope"
    )
    assert not Workflow.objects.filter(name="etl_steal").exists()
    response = post(client_as("operator"), source("harmless", {"env": "prod"}))
    assert response.status_code == 403 and "tags env=prod" in response.json()["detail"]


def test_an_operator_cannot_rename_or_retag_a_workflow_into_it(client_as, prod):
    client = client_as("operator")
    assert post(client, source("dev_job")).status_code == 201
    workflow = Workflow.objects.get(name="dev_job")
    assert put(client, workflow, source("etl_job")).status_code == 403
    assert put(client, workflow, source("dev_job", {"env": "prod"})).status_code == 403
    workflow.refresh_from_db()
    assert (workflow.name, workflow.version, workflow.tags) == ("dev_job", 1, {})
    assert put(client, workflow, source("dev_job", {"env": "dev"})).status_code == 200


def test_an_admin_may_and_an_operator_then_edits_it(client_as, prod):
    assert post(client_as("admin"), source("etl_nightly")).status_code == 201
    workflow = Workflow.objects.get(name="etl_nightly")
    assert put(client_as("operator"), workflow, source("etl_nightly", {"team": "data"})).status_code == 200
    workflow.refresh_from_db()
    assert workflow.version == 2


def test_a_scope_open_to_all_restricts_nothing(client_as, make_provider):
    make_provider("vault-shared", workflows=["*"])
    assert (
        post(client_as("operator"), json.dumps({"name": "anything", "tasks": {"a": {"run": "true"}}})).status_code
        == 201
    )


def test_the_form_says_why(client_as, prod):
    response = client_as("operator").post("/workflows/new/", {"source": source("etl_steal"), "base_dir": ""})
    assert response.status_code == 200
    page = response.content.decode()
    assert "would be in the scope of secret provider" in page and "only an admin may create a workflow" in page
    assert not Workflow.objects.filter(name="etl_steal").exists()
