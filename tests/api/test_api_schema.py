"""The OpenAPI schema generates cleanly and the docs page works offline."""

from __future__ import annotations

import yaml
from django.core.management import call_command


def test_the_schema_validates_without_warnings(db, tmp_path):
    out = tmp_path / "schema.yaml"
    # --fail-on-warn raises SchemaGenerationError on any warning or error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    paths = yaml.safe_load(out.read_text())["paths"]
    assert {
        "/api/token/", "/api/workflows/", "/api/workflows/{id}/", "/api/workflows/validate/",
        "/api/workflows/{id}/versions/", "/api/workflows/{id}/runs/", "/api/runs/", "/api/runs/{id}/",
        "/api/runs/{id}/cancel/", "/api/runs/{id}/rerun/", "/api/taskruns/{id}/", "/api/taskruns/{id}/logs/",
        "/api/taskruns/{id}/logs/tail/",
    } <= set(paths)  # fmt: skip


def test_the_schema_needs_a_login(client, db):
    assert client.get("/api/schema/", HTTP_ACCEPT="application/json").status_code == 401


def test_the_schema_documents_the_run_filters_and_error_shapes(client_as):
    response = client_as("viewer").get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    runs = schema["paths"]["/api/runs/"]["get"]
    assert {p["name"] for p in runs["parameters"]} >= {
        "workflow",
        "status",
        "created_after",
        "created_before",
        "cursor",
    }
    create = schema["paths"]["/api/workflows/"]["post"]["responses"]
    assert create["400"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/InvalidWorkflow"
    assert "security" not in schema["paths"]["/api/token/"]["post"]  # no credentials needed to get a token


def test_the_docs_page_loads_swagger_from_our_own_static_files(client_as):
    response = client_as("viewer").get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    assert "cdn." not in page and "unpkg" not in page
