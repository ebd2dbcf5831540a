"""The providers API: admins create, change (credentials left out are kept), test and delete
providers; a credential is never in an answer; bad settings are a 400 naming each field."""

from __future__ import annotations

import pytest

from security.models import ProviderChange, SecretProvider

pytestmark = pytest.mark.django_db


def body(bao, **changes):
    data = {"name": "vault-api", "kind": "vault", "options": {"url": bao.url}, "credentials": {"token": bao.token},
            "scope": {"workflows": ["etl_*"]}}  # fmt: skip
    data.update(changes)
    return data


def test_an_admin_creates_tests_and_changes_a_provider(client_as, bao):
    client = client_as("admin")
    created = client.post("/api/security/providers/", body(bao), content_type="application/json")
    assert created.status_code == 201 and bao.token not in created.content.decode()
    pk = created.json()["id"]
    assert created.json()["credential_fields"] == ["token"] and created.json()["scope"]["workflows"] == ["etl_*"]
    tested = client.post(f"/api/security/providers/{pk}/test/").json()
    assert tested["ok"] is True and tested["message"].startswith("authenticated (token)")
    changed = client.patch(
        f"/api/security/providers/{pk}/", {"options": {"timeout": 5}}, content_type="application/json"
    )
    assert changed.status_code == 200 and changed.json()["options"]["timeout"] == 5
    provider = SecretProvider.objects.get(pk=pk)
    assert provider.config()["token"] == bao.token and provider.options["url"] == bao.url  # kept
    audit = client.get(f"/api/security/providers/{pk}/changes/").json()["results"]
    assert [c["action"] for c in audit] == ["changed", "created"] and audit[0]["fields"] == ["options.timeout"]
    assert {"name", "kind", "credentials.token", "options.url", "scope_workflows"} <= set(audit[1]["fields"])


def test_bad_settings_are_a_400_naming_each_field(client_as, bao):
    response = client_as("admin").post(
        "/api/security/providers/", body(bao, options={"url": "ftp://x"}), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"url": "expected http:// or https:// and a host"}
    assert "url: expected http://" in response.json()["detail"]


def test_a_wrong_token_tests_as_an_authentication_failure(client_as, bao):
    client = client_as("admin")
    pk = client.post("/api/security/providers/", body(bao, credentials={"token": "hvs.wrong-1234"}),
                     content_type="application/json").json()["id"]  # fmt: skip
    assert client.post(f"/api/security/providers/{pk}/test/").json() == {
        "ok": False, "kind": "authentication",
        "message": "vault-api: authentication failed: the token is invalid, expired or revoked",
    }  # fmt: skip


def test_operators_and_viewers_may_not_write(client_as, bao, make_provider):
    provider = make_provider("vault-prod")
    for role in ("viewer", "operator"):
        client = client_as(role)
        assert client.post("/api/security/providers/", body(bao), content_type="application/json").status_code == 403
        assert client.delete(f"/api/security/providers/{provider.pk}/").status_code == 403
        assert client.post(f"/api/security/providers/{provider.pk}/test/").status_code == 403
        assert client.get(f"/api/security/providers/{provider.pk}/changes/").status_code == 403
    assert client_as("viewer").get("/api/security/secret-reads/").status_code == 403


def test_delete_keeps_the_audit_log(client_as, make_provider):
    provider = make_provider("vault-prod")
    assert client_as("admin").delete(f"/api/security/providers/{provider.pk}/").status_code == 204
    assert list(ProviderChange.objects.values_list("provider_name", "action", "username")) == [
        ("vault-prod", "deleted", "admin"), ("vault-prod", "created", "admin"),
    ]  # fmt: skip
