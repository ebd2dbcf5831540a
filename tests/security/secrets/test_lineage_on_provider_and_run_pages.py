"""Lineage on the pages: the provider's page lists which runs and tasks read which secret
(path, key, version), the run's page has a secrets panel with its reads, and both agree with
the API and the run page's live snapshot. Never a value."""

from __future__ import annotations

import pytest

from workflows.snapshots import run_snapshot

from .conftest import run_now, workflow

pytestmark = pytest.mark.django_db(transaction=True)
VALUE = "lineage-value-never-shown"


@pytest.fixture
def run(make_provider, vault_secret):
    make_provider()
    path = vault_secret({"password": VALUE})
    done = run_now(
        workflow("lineage-pages", {"load": {"run": "true", "secrets": {"DB_PW": f"vault-test:{path}#password"}}})
    )
    assert done.status == "success", done.message
    done.secret_path = path
    return done


def test_the_provider_page_lists_the_runs_that_read_it(client_as, run):
    page = client_as("operator").get(f"/providers/{run.secret_reads.get().provider_id}/").content.decode()
    assert f'href="/runs/{run.pk}/"' in page and "lineage-pages #1" in page
    assert run.secret_path in page and ">password<" in page and ">DB_PW<" in page
    assert VALUE not in page


def test_the_run_page_has_a_secrets_panel_with_its_reads(client_as, run):
    page = client_as("viewer").get(f"/runs/{run.pk}/").content.decode()
    panel = page.split('id="secrets-panel"')[1].split("</section>")[0]
    assert "DB_PW" in panel and run.secret_path in panel and "vault-test" in panel and VALUE not in page
    assert "js/secrets_run.js" in page


def test_the_snapshot_and_the_api_carry_the_same_reads(client_as, run):
    reads = run_snapshot(run.pk)["extras"]["secrets"]["reads"]
    assert [(r["node"], r["env"], r["provider"], r["path"], r["key"], r["version"]) for r in reads] == [
        ("load", "DB_PW", "vault-test", run.secret_path, "password", "1")
    ]
    api = client_as("operator").get(f"/api/security/secret-reads/?run={run.pk}").json()["results"]
    assert [(r["node"], r["env"], r["path"], r["version"]) for r in api] == [("load", "DB_PW", run.secret_path, "1")]
