"""The "Test connection" button of the provider form: the store's own answer on success, or the exact cause
(authentication, unreachable, ...) on failure, for the values typed in (unsaved) or, for a stored
provider, with its stored credentials where a field is left blank. Against real servers."""

from __future__ import annotations

import pytest

from security.models import SecretProvider
from tests.security.providers.servers import free_port

from .conftest import vault_form

pytestmark = pytest.mark.django_db

READ_POLICY = 'path "secret/*" { capabilities = ["read", "list"] }'


def check(client, url: str, data: dict[str, str]) -> dict:
    response = client.post(url, data, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def test_vault_approle_success_then_the_exact_cause_of_a_wrong_secret_id(client_as, bao, approle):
    role_id, secret_id = approle(READ_POLICY)
    client = client_as("admin")
    form = vault_form(bao.url, vault__auth="approle", vault__role_id=role_id, vault__secret_id=secret_id)
    assert check(client, "/providers/test/", form) == {
        "ok": True, "kind": "ok", "message": f"authenticated (AppRole) at {bao.url}; secret/ is KV version 2"
    }  # fmt: skip
    wrong = check(client, "/providers/test/", {**form, "vault__secret_id": "not-the-secret-id"})
    assert wrong == {"ok": False, "kind": "authentication",
                     "message": "vault-prod: authentication failed: AppRole login refused: invalid role or secret ID"}  # fmt: skip
    assert not SecretProvider.objects.exists()  # testing saves nothing


def test_an_unreachable_address_says_so(client_as):
    port = free_port()
    result = check(client_as("admin"), "/providers/test/",
                             vault_form(f"http://127.0.0.1:{port}", vault__token="t-1234", vault__timeout="2"))  # fmt: skip
    assert result["kind"] == "unreachable"
    assert (
        result["message"] == f"vault-prod: unreachable: cannot connect to http://127.0.0.1:{port}: connection refused"
    )


def test_a_stored_provider_is_tested_with_its_stored_credentials(client_as, make_provider, bao):
    provider = make_provider("vault-prod")  # the root token, stored
    client = client_as("admin")
    assert check(client, f"/providers/{provider.pk}/test/", vault_form(bao.url))["ok"] is True
    assert check(client, f"/providers/{provider.pk}/test/", {})["ok"] is True  # the page's button
    bad = check(client, f"/providers/{provider.pk}/test/", vault_form(bao.url, vault__token="hvs.wrong"))
    assert bad["message"] == "vault-prod: authentication failed: the token is invalid, expired or revoked"


def test_aws_keys_against_moto(client_as, moto):
    form = {
        "name": "aws-prod", "kind": "aws", "aws__region": "us-east-1", "aws__auth": "keys",
        "aws__access_key_id": moto.admin["access_key_id"], "aws__secret_access_key": moto.admin["secret_access_key"],
        "aws__endpoint_url": moto.url, "aws__role_session_name": "script-runner", "aws__timeout": "10",
    }  # fmt: skip
    client = client_as("admin")
    assert check(client, "/providers/test/", form)["message"].startswith("authenticated as ")
    bad = check(client, "/providers/test/", {**form, "aws__secret_access_key": "wrong-key"})
    assert (bad["ok"], bad["kind"]) == (False, "authentication") and bad["message"].startswith(
        "aws-prod: authentication failed"
    )


def test_azure_client_secret_against_the_local_key_vault(client_as, keyvault):
    config = keyvault.provider_config()
    form = {"name": "kv-prod", "kind": "azure", **{f"azure__{k}": ("on" if v is True else v) for k, v in config.items()
                                                    if v is not False}}  # fmt: skip
    client = client_as("admin")
    assert check(client, "/providers/test/", form) == {
        "ok": True, "kind": "ok", "message": f"authenticated at {keyvault.url}"
    }  # fmt: skip
    bad = check(client, "/providers/test/", {**form, "azure__client_secret": "wrong"})
    assert (bad["ok"], bad["kind"]) == (False, "authentication")


def test_a_form_error_is_reported_per_field_without_contacting_anything(client_as):
    result = check(client_as("admin"), "/providers/test/", vault_form("ftp://x", vault__token="t-1234"))
    assert (result["ok"], result["kind"]) == (False, "config")
    assert result["errors"] == {"vault__url": "expected http:// or https:// and a host"}


def test_without_javascript_the_form_comes_back_with_the_result(client_as, bao):
    response = client_as("admin").post("/providers/test/", vault_form(bao.url, vault__token=bao.token))
    page = response.content.decode()
    assert response.status_code == 200 and "authenticated (token)" in page
    assert bao.token not in page  # not even a credential typed a moment ago is rendered back
