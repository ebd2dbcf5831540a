"""The scans API: start a scan of a workflow's folder on the queue, read it, its SBOM and SARIF;
scans of other folders and SARIF imports by operators only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from security.models import Scan
from security.scanners import sarif, sbom
from tests.conftest import make_workflow, wait_until

pytestmark = pytest.mark.integration


def test_an_operator_scans_a_workflow_folder_through_the_queue(consumer, client_as, advisories, project: Path):
    workflow = make_workflow("name: scanned\ntasks:\n  a: {run: 'true'}\n", base_dir=str(project))
    client = client_as("operator")

    started = client.post("/api/security/scans/", {"workflow": workflow.pk, "tools": ["bandit", "osv"]},
                          content_type="application/json")  # fmt: skip

    assert started.status_code == 202, started.content
    scan_id = started.json()["id"]
    done = wait_until(lambda: Scan.objects.filter(pk=scan_id, status__in=["done", "failed"]).first(), timeout=60)
    assert done.status == "done", done.message
    body = client.get(f"/api/security/scans/{scan_id}/").json()
    assert body["counts"]["high"] >= 1 and body["manifests"] == ["requirements.txt"]
    django = client.get("/api/security/findings/", {"scan": scan_id, "kind": "dependency"}).json()["results"]
    assert len(django) == 25 + 2 and {f["package"] for f in django} == {"django", "jinja2"}
    document = client.get(body["sbom_url"])
    assert document["Content-Type"] == "application/vnd.cyclonedx+json"
    sbom.validate(document.content.decode())
    sarif.validate(json.loads(client.get(body["sarif_url"]).content))


def test_only_allowed_folders_can_be_scanned(client_as, db, tmp_path: Path):
    response = client_as("operator").post("/api/security/scans/", {"path": str(tmp_path)},
                                          content_type="application/json")  # fmt: skip

    assert response.status_code == 400
    assert "not a folder the API may scan" in response.json()["detail"]


def test_viewers_and_triagers_cannot_start_scans(client_as, db, project: Path):
    workflow = make_workflow("name: v\ntasks:\n  a: {run: 'true'}\n", base_dir=str(project))

    for role in ("viewer", "triager"):
        response = client_as(role).post("/api/security/scans/", {"workflow": workflow.pk},
                                        content_type="application/json")  # fmt: skip
        assert response.status_code == 403


def test_a_sarif_import_through_the_api(client_as, db, project: Path):
    from .test_sarif_export_and_import import FOREIGN

    workflow = make_workflow("name: imported\ntasks:\n  a: {run: 'true'}\n", base_dir=str(project))
    bad = {"workflow": workflow.pk, "sarif": {"version": "2.1.0"}}
    good = {"workflow": workflow.pk, "sarif": FOREIGN}

    refused = client_as("operator").post("/api/security/scans/import-sarif/", bad, content_type="application/json")
    imported = client_as("operator").post("/api/security/scans/import-sarif/", good, content_type="application/json")

    assert refused.status_code == 400 and "runs" in refused.json()["detail"]
    assert imported.status_code == 201 and imported.json()["new_count"] == 1
