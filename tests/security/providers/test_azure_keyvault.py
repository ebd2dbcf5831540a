"""Azure Key Vault through the SDK against a local server that speaks its protocol.

See keyvault_server.py: HTTPS with a throwaway CA, the 401 challenge, a local Entra token
endpoint (`disable_instance_discovery=True`) and `verify_challenge_resource=False` on loopback.
"""

from __future__ import annotations

import json

import pytest

from security.providers.base import (
    AuthenticationError,
    InvalidReference,
    NotFoundError,
    PermissionDeniedError,
    TLSError,
    UnreachableError,
)

from .servers import free_port


def test_the_latest_version_is_read_after_the_challenge(azure, keyvault, unique):
    keyvault.set_secret(f"db-{unique}", "first-value")
    latest = keyvault.set_secret(f"db-{unique}", "second-value")
    secret = azure().resolve(f"azure-test:db-{unique}")
    assert (secret.value, secret.version) == ("second-value", latest)


def test_a_version_id_reads_that_version(azure, keyvault, unique):
    first = keyvault.set_secret(f"db-{unique}", "first-value")
    keyvault.set_secret(f"db-{unique}", "second-value")
    assert azure().resolve(f"azure-test:db-{unique}@{first}").value == "first-value"


def test_a_key_of_a_json_value_is_read(azure, keyvault, unique):
    keyvault.set_secret(f"conn-{unique}", json.dumps({"user": "app", "password": "json-pw"}))
    assert azure().resolve(f"azure-test:conn-{unique}#password").value == "json-pw"


def test_a_missing_secret_is_not_found_with_the_vaults_words(azure, unique):
    with pytest.raises(NotFoundError, match=r"\(SecretNotFound\) A secret with \(name/id\) nothing-" + unique):
        azure().resolve(f"azure-test:nothing-{unique}")


def test_a_secret_the_principal_may_not_get_is_a_permission_error(azure, keyvault, unique):
    keyvault.set_secret(f"locked-{unique}", "locked-value")
    keyvault.denied.add(f"locked-{unique}")
    with pytest.raises(PermissionDeniedError, match="does not have secrets get permission") as caught:
        azure().resolve(f"azure-test:locked-{unique}")
    assert "locked-value" not in str(caught.value)


def test_a_wrong_client_secret_is_an_authentication_error(azure, keyvault, unique):
    keyvault.set_secret(f"db-{unique}", "value")
    with pytest.raises(AuthenticationError, match="AADSTS7000215: Invalid client secret provided") as caught:
        azure(client_secret="wrong-secret-value").resolve(f"azure-test:db-{unique}")
    assert "wrong-secret-value" not in str(caught.value)


def test_a_certificate_from_an_unknown_ca_is_a_tls_error(azure, unique):
    with pytest.raises(TLSError, match="certificate verify failed"):
        azure(ca_cert="").resolve(f"azure-test:db-{unique}")


def test_a_vault_with_nothing_listening_is_unreachable(azure, unique):
    gone = f"https://127.0.0.1:{free_port()}"
    with pytest.raises(UnreachableError):
        azure(vault_url=gone, authority_host=gone, timeout=2).resolve(f"azure-test:db-{unique}")


def test_a_name_key_vault_cannot_have_is_refused_before_asking(azure):
    with pytest.raises(InvalidReference, match="only letters, digits and '-'"):
        azure().resolve("azure-test:db/prod")


def test_writing_adds_a_version_and_listing_finds_it(azure, keyvault, unique):
    provider = azure()
    version = provider.write(f"new-{unique}", {"password": "written"})
    assert keyvault.secrets[f"new-{unique}"][-1][0] == version
    assert provider.resolve(f"azure-test:new-{unique}#password").value == "written"
    assert provider.list_paths(f"new-{unique}") == [f"new-{unique}"]


def test_test_connection_succeeds_and_says_when_listing_is_not_allowed(azure, keyvault):
    provider = azure()
    assert provider.test_connection() == f"authenticated at {keyvault.url}"
    keyvault.deny_list = True
    try:
        assert "may not list secrets" in azure(name="azure-two").test_connection()
    finally:
        keyvault.deny_list = False


def test_the_default_credential_chain_takes_the_workers_environment(azure, keyvault, unique, monkeypatch):
    """`auth: default` (DefaultAzureCredential): with AZURE_TENANT_ID, AZURE_CLIENT_ID and
    AZURE_CLIENT_SECRET in the worker's environment its first link, EnvironmentCredential, gets the
    token from the same local token endpoint; nothing secret is stored on the provider."""
    keyvault.set_secret(f"chain-{unique}", "from-the-chain")
    monkeypatch.setenv("AZURE_TENANT_ID", keyvault.tenant)
    monkeypatch.setenv("AZURE_CLIENT_ID", keyvault.client_id)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", keyvault.client_secret)
    provider = azure(auth="default", tenant_id="", client_id="", client_secret="")
    assert provider.resolve(f"azure-test:chain-{unique}").value == "from-the-chain"


def test_without_the_azure_extra_building_one_says_what_to_install(keyvault, monkeypatch):
    from security.providers import azure as module
    from security.providers import build_provider
    from security.providers.base import ProviderConfigError

    monkeypatch.setattr(module, "az", None)  # as if azure-keyvault-secrets and azure-identity were absent
    with pytest.raises(ProviderConfigError, match=r"needs the azure extra: pip install 'script-runner\[azure\]'"):
        build_provider("azure", "azure-test", keyvault.provider_config())
