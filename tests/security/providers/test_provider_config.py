"""Provider configuration as forms see it: fields per kind, errors per field, credentials kept apart."""

from __future__ import annotations

import pytest

from security.providers import PROVIDER_KINDS, build_provider, provider_class
from security.providers.base import ProviderConfigError


def test_every_kind_describes_its_fields_and_marks_credentials_secret():
    secret_fields = {kind: {f.name for f in provider_class(kind).fields if f.secret} for kind in PROVIDER_KINDS}
    assert secret_fields == {
        "vault": {"token", "secret_id"},
        "aws": {"secret_access_key", "session_token"},
        "azure": {"client_secret"},
    }


def test_each_bad_field_gets_its_own_message():
    with pytest.raises(ProviderConfigError) as caught:
        build_provider("vault", "v", {"url": "vault.local", "auth": "approle", "timeout": "soon", "colour": "red"})
    assert caught.value.errors == {
        "colour": "unknown setting for a HashiCorp Vault provider",
        "role_id": "required",
        "secret_id": "required",
        "timeout": "expected a whole number",
    }


def test_cross_field_rules_are_checked_once_fields_are_valid():
    with pytest.raises(ProviderConfigError) as caught:
        build_provider("vault", "v", {"url": "vault.local", "token": "t"})
    assert caught.value.errors == {"url": "expected http:// or https:// and a host"}


def test_fields_for_another_auth_method_are_not_required():
    provider = build_provider("vault", "v", {"url": "https://vault.example.com/", "token": "t"})
    assert provider.config["url"] == "https://vault.example.com"
    assert provider.config["role_id"] is None and provider.config["mount"] == "secret"


def test_split_config_keeps_credentials_apart_for_encryption():
    cls = provider_class("aws")
    config = cls.clean_config({"region": "eu-west-1", "access_key_id": "AKIA1", "secret_access_key": "s3"})
    settings, credentials = cls.split_config(config)
    assert credentials == {"secret_access_key": "s3", "session_token": None}
    assert settings["access_key_id"] == "AKIA1" and "secret_access_key" not in settings


def test_azure_refuses_a_vault_url_without_tls():
    with pytest.raises(ProviderConfigError, match="vault_url: expected https://"):
        build_provider(
            "azure", "a", {"vault_url": "http://kv.local", "tenant_id": "t", "client_id": "c", "client_secret": "s"}
        )


def test_aws_wants_a_region_name():
    with pytest.raises(ProviderConfigError, match="region: expected a region name like eu-west-1"):
        build_provider("aws", "a", {"region": "Frankfurt", "access_key_id": "a", "secret_access_key": "b"})


def test_a_pem_field_wants_a_certificate():
    with pytest.raises(ProviderConfigError, match="ca_cert: expected PEM text"):
        build_provider("vault", "v", {"url": "https://v", "token": "t", "ca_cert": "not a certificate"})


def test_an_unknown_kind_and_a_bad_name_are_refused():
    with pytest.raises(ValueError, match="unknown provider kind 'gcp' \\(expected vault, aws, azure\\)"):
        build_provider("gcp", "g", {})
    with pytest.raises(ProviderConfigError, match="name: may only contain"):
        build_provider("vault", "prod vault", {"url": "https://v", "token": "t"})


def test_a_provider_never_shows_its_credentials_in_repr():
    provider = build_provider("vault", "v", {"url": "https://v", "token": "hvs.very-secret"})
    assert "very-secret" not in repr(provider)
