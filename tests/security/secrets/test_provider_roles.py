"""Roles: admins configure providers; operators see which providers they may reference (scope)
and what runs read (lineage), but not their settings nor the form; viewers see names only."""

from __future__ import annotations

import pytest

from .conftest import vault_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider(make_provider):
    return make_provider("vault-prod", workflows=["etl_*"], description="production database credentials")


def test_every_role_has_the_nav_link(client_as, provider):
    for role in ("viewer", "operator", "triager", "admin"):
        assert 'href="/providers/"' in client_as(role).get("/").content.decode(), role


def test_viewers_see_names_only(client_as, provider):
    client = client_as("viewer")
    page = client.get("/providers/").content.decode()
    assert "vault-prod" in page
    assert "HashiCorp Vault" not in page and "etl_*" not in page and "production database" not in page
    assert f'href="/providers/{provider.pk}/"' not in page
    assert client.get(f"/providers/{provider.pk}/").status_code == 403


def test_operators_see_scope_and_lineage_but_not_settings(client_as, provider, bao):
    client = client_as("operator")
    assert "etl_*" in client.get("/providers/").content.decode()
    page = client.get(f"/providers/{provider.pk}/").content.decode()
    assert "etl_*" in page and 'id="provider-reads"' in page
    assert bao.url not in page and 'id="provider-audit"' not in page and "Test connection" not in page


def test_operators_cannot_open_or_post_the_form(client_as, provider, bao):
    client = client_as("operator")
    assert client.get("/providers/new/").status_code == 403
    assert client.get(f"/providers/{provider.pk}/edit/").status_code == 403
    assert client.post("/providers/new/", vault_form(bao.url, name="mine", vault__token="t-1234")).status_code == 403
    assert client.post(f"/providers/{provider.pk}/delete/").status_code == 403
    assert client.post(f"/providers/{provider.pk}/test/").status_code == 403


def test_admins_see_settings_and_the_audit_log(client_as, provider, bao):
    page = client_as("admin").get(f"/providers/{provider.pk}/").content.decode()
    assert bao.url in page and 'id="provider-audit"' in page and "Token stored" in page
    assert bao.token not in page


def test_the_api_answers_each_role_with_what_it_may_see(client_as, provider):
    assert client_as("viewer").get("/api/security/providers/").json() == [{"id": provider.pk, "name": "vault-prod"}]
    operator = client_as("operator").get(f"/api/security/providers/{provider.pk}/").json()
    assert operator["scope"] == {"workflows": ["etl_*"], "tags": []} and "options" not in operator
    admin = client_as("admin").get(f"/api/security/providers/{provider.pk}/").json()
    assert admin["credential_fields"] == ["token"] and admin["options"]["mount"] == "secret"
    assert "credentials" not in admin
