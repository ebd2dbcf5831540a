"""Admins create, edit and delete providers in forms with each kind's own fields; a stored
credential is never rendered back, and a credential left blank keeps what is stored."""

from __future__ import annotations

import pytest

from security.models import ProviderChange, SecretProvider

from .conftest import vault_form

pytestmark = pytest.mark.django_db


def test_the_form_has_each_kinds_own_fields(client_as):
    page = client_as("admin").get("/providers/new/").content.decode()
    for name in ("vault__url", "vault__role_id", "vault__secret_id", "aws__region", "aws__secret_access_key",
                 "aws__role_arn", "azure__vault_url", "azure__client_secret", "azure__tenant_id"):  # fmt: skip
        assert f'name="{name}"' in page
    assert 'data-when="{&quot;auth&quot;: [&quot;approle&quot;]}"' in page  # shown only for AppRole


def test_an_admin_creates_a_vault_provider(client_as, bao):
    client = client_as("admin")
    response = client.post("/providers/new/", vault_form(bao.url, vault__token="hvs.created-token-1234",
                                                         scope_workflows="etl_*\nreport", scope_tags="env=prod"))  # fmt: skip
    provider = SecretProvider.objects.get(name="vault-prod")
    assert response.status_code == 302 and response["Location"] == f"/providers/{provider.pk}/"
    assert (provider.kind, provider.options["url"], provider.options["auth"]) == ("vault", bao.url, "token")
    assert provider.config()["token"] == "hvs.created-token-1234" and provider.credential_fields == ["token"]
    assert (provider.scope_workflows, provider.scope_tags) == (["etl_*", "report"], ["env=prod"])


def test_aws_and_azure_providers_store_their_own_fields(client_as):
    client = client_as("admin")
    client.post("/providers/new/", {
        "name": "aws-prod", "kind": "aws", "scope_workflows": "*", "aws__region": "eu-west-1", "aws__auth": "keys",
        "aws__access_key_id": "AKIAEXAMPLEKEY", "aws__secret_access_key": "aws-secret-access-key-1",
        "aws__role_session_name": "script-runner", "aws__verify_tls": "on", "aws__timeout": "10",
    })  # fmt: skip
    client.post("/providers/new/", {
        "name": "kv-prod", "kind": "azure", "scope_workflows": "*", "azure__vault_url": "https://kv.vault.azure.net",
        "azure__auth": "client_secret", "azure__tenant_id": "tenant", "azure__client_id": "client",
        "azure__client_secret": "azure-client-secret-1", "azure__verify_challenge_resource": "on", "azure__timeout": "10",
    })  # fmt: skip
    aws, azure = SecretProvider.objects.get(name="aws-prod"), SecretProvider.objects.get(name="kv-prod")
    assert aws.options["region"] == "eu-west-1" and aws.config()["secret_access_key"] == "aws-secret-access-key-1"
    assert azure.options["vault_url"] == "https://kv.vault.azure.net" and azure.credential_fields == ["client_secret"]


def test_each_field_gets_its_own_error(client_as, bao):
    client = client_as("admin")
    missing = client.post(
        "/providers/new/", vault_form(bao.url, vault__auth="approle", vault__secret_id="s", name="bad name")
    )
    wrong = client.post("/providers/new/", vault_form("ftp://nowhere", vault__token="t-1234"))
    assert (missing.status_code, wrong.status_code) == (400, 400) and not SecretProvider.objects.exists()
    assert missing.context["form"].errors["vault__role_id"] == ["required"]
    assert "may only contain letters" in missing.context["form"].errors["name"][0]
    assert wrong.context["form"].errors["vault__url"] == ["expected http:// or https:// and a host"]


def test_the_edit_form_never_contains_the_stored_secret(client_as, make_provider, bao):
    provider = make_provider("vault-prod", auth="approle", role_id="role-1234", secret_id="approle-secret-id-5678")
    page = client_as("admin").get(f"/providers/{provider.pk}/edit/").content.decode()
    assert "approle-secret-id-5678" not in page and bao.token not in page
    assert 'name="vault__secret_id"' in page and "stored: leave blank to keep" in page
    assert "role-1234" in page  # settings that are not secret are shown to edit


def test_a_blank_credential_keeps_the_stored_one(client_as, make_provider, bao):
    provider = make_provider("vault-prod", token="hvs.kept-token-1234")
    client_as("admin").post(f"/providers/{provider.pk}/edit/", vault_form(bao.url, vault__timeout="20"))
    provider.refresh_from_db()
    assert provider.config()["token"] == "hvs.kept-token-1234" and provider.options["timeout"] == 20


def test_a_new_credential_replaces_it_and_an_optional_one_can_be_removed(client_as):
    client = client_as("admin")
    aws = {
        "name": "aws-prod", "kind": "aws", "scope_workflows": "*", "aws__region": "eu-west-1", "aws__auth": "keys",
        "aws__access_key_id": "AKIAEXAMPLEKEY", "aws__secret_access_key": "first-secret-key",
        "aws__session_token": "session-token-1", "aws__role_session_name": "script-runner", "aws__timeout": "10",
    }  # fmt: skip
    client.post("/providers/new/", aws)
    provider = SecretProvider.objects.get(name="aws-prod")
    client.post(f"/providers/{provider.pk}/edit/", {**aws, "aws__secret_access_key": "second-secret-key",
                                                    "aws__session_token": "", "aws__session_token__clear": "on"})  # fmt: skip
    provider.refresh_from_db()
    assert provider.config()["secret_access_key"] == "second-secret-key"
    assert "session_token" not in provider.config() and provider.credential_fields == ["secret_access_key"]


def test_an_admin_deletes_a_provider_and_its_audit_log_stays(client_as, make_provider):
    provider = make_provider("vault-old")
    client = client_as("admin")
    assert "vault-old" in client.get(f"/providers/{provider.pk}/delete/").content.decode()
    response = client.post(f"/providers/{provider.pk}/delete/")
    assert response.status_code == 302 and not SecretProvider.objects.filter(name="vault-old").exists()
    assert list(ProviderChange.objects.filter(provider_name="vault-old").values_list("action", flat=True)) == [
        "deleted",
        "created",
    ]


def test_a_name_in_use_is_refused(client_as, make_provider, bao):
    make_provider("vault-prod")
    response = client_as("admin").post("/providers/new/", vault_form(bao.url, vault__token="t-1234"))
    assert response.context["form"].errors["name"] == ["a secret provider named 'vault-prod' exists already"]
