"""Who may call the API: tokens, anonymous clients, users without a role, and each role's reach."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.api.factories import add_run, add_workflow
from workflows.models import Run, Workflow


def test_it_issues_a_token_for_a_valid_password(users):
    response = APIClient().post("/api/token/", {"username": "viewer", "password": "pw"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=users["viewer"]).key}


def test_it_issues_the_same_token_every_time(users):
    first = APIClient().post("/api/token/", {"username": "operator", "password": "pw"}, format="json").json()
    second = APIClient().post("/api/token/", {"username": "operator", "password": "pw"}, format="json").json()
    assert first == second
    assert Token.objects.filter(user=users["operator"]).count() == 1


def test_it_refuses_a_wrong_password(users):
    response = APIClient().post("/api/token/", {"username": "viewer", "password": "nope"}, format="json")
    assert response.status_code == 400
    assert "credentials" in response.json()["detail"]
    assert not Token.objects.exists()


def test_token_endpoint_names_missing_fields(users):
    response = APIClient().post("/api/token/", {"username": "viewer"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()["detail"]


def test_token_endpoint_only_allows_post(users):
    assert APIClient().get("/api/token/").status_code == 405


def test_a_token_authenticates_api_requests(users):
    token = APIClient().post("/api/token/", {"username": "viewer", "password": "pw"}, format="json").json()["token"]
    add_workflow()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get("/api/workflows/")
    assert response.status_code == 200
    assert [w["name"] for w in response.json()["results"]] == ["etl"]


@pytest.mark.parametrize(
    "method, url",
    [
        ("get", "/api/workflows/"),
        ("get", "/api/workflows/1/"),
        ("post", "/api/workflows/"),
        ("post", "/api/workflows/validate/"),
        ("post", "/api/workflows/1/runs/"),
        ("get", "/api/runs/"),
        ("post", "/api/runs/1/cancel/"),
        ("get", "/api/taskruns/1/logs/"),
    ],
)
def test_anonymous_requests_get_401_json_not_a_login_redirect(db, method, url):
    response = getattr(APIClient(), method)(url, {}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response["Content-Type"] == "application/json"
    assert "credentials were not provided" in response.json()["detail"]


def test_a_bad_token_is_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/runs/")
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid token."


def test_a_user_without_a_role_gets_403(users):
    User.objects.create_user("nobody", password="pw")
    client = APIClient()
    client.login(username="nobody", password="pw")
    response = client.get("/api/workflows/")
    assert response.status_code == 403
    assert "permission" in response.json()["detail"]


def test_viewer_reads_every_resource(api_as):
    run = add_run(add_workflow(), Run.SUCCESS, tasks={"extract": "success", "load": "success"})
    task = run.tasks.get(node_id="extract")
    client = api_as("viewer")
    urls = [
        "/api/workflows/", f"/api/workflows/{run.workflow_id}/", f"/api/workflows/{run.workflow_id}/versions/",
        "/api/runs/", f"/api/runs/{run.pk}/", f"/api/taskruns/{task.pk}/", f"/api/taskruns/{task.pk}/logs/",
        f"/api/taskruns/{task.pk}/logs/tail/",
    ]  # fmt: skip
    assert {url: client.get(url).status_code for url in urls} == dict.fromkeys(urls, 200)


def test_viewer_can_validate_but_not_create(client_as):
    client = client_as("viewer")
    body = {"source": "name: x\ntasks: {a: {run: 'true'}}\n"}
    assert client.post("/api/workflows/validate/", body, content_type="application/json").status_code == 200
    response = client.post("/api/workflows/", body, content_type="application/json")
    assert response.status_code == 403
    assert not Workflow.objects.filter(name="x").exists()


@pytest.mark.parametrize("role", ["viewer", "triager"])
def test_roles_without_run_rights_cannot_trigger_cancel_or_rerun(client_as, role):
    workflow = add_workflow()
    queued = add_run(workflow)
    failed = add_run(workflow, Run.FAILED, tasks={"extract": "failed"})
    client = client_as(role)
    codes = [
        client.post(f"/api/workflows/{workflow.pk}/runs/", {}, content_type="application/json").status_code,
        client.post(f"/api/runs/{queued.pk}/cancel/").status_code,
        client.post(f"/api/runs/{failed.pk}/rerun/", {}, content_type="application/json").status_code,
    ]
    assert codes == [403, 403, 403]
    assert Run.objects.count() == 2
    assert Run.objects.get(pk=queued.pk).status == Run.QUEUED


def test_operator_cannot_delete_a_workflow(client_as):
    workflow = add_workflow()
    response = client_as("operator").delete(f"/api/workflows/{workflow.pk}/")
    assert response.status_code == 403
    assert Workflow.objects.filter(pk=workflow.pk).exists()


def test_an_unknown_api_url_is_a_json_404(client_as):
    response = client_as("viewer").get("/api/nothing-here/")
    assert response.status_code == 404
    assert response.json() == {"detail": "no API endpoint at /api/nothing-here/"}


def test_a_missing_trailing_slash_gets_a_hint(db):
    response = APIClient().post("/api/workflows", {}, format="json")
    assert response.status_code == 404
    assert "did you mean /api/workflows/" in response.json()["detail"]
