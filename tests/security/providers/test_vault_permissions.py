"""Vault refusals: a policy that denies a path, a token that is not (or no longer) valid (OpenBao)."""

from __future__ import annotations

import pytest

from security.providers.base import AuthenticationError, PermissionDeniedError


@pytest.fixture
def two_secrets(bao, unique):
    root = bao.client()
    root.secrets.kv.v2.create_or_update_secret(f"{unique}/open", {"v": "open-value"})
    root.secrets.kv.v2.create_or_update_secret(f"{unique}/closed", {"v": "closed-value"})
    policy = (
        f'path "secret/data/{unique}/*" {{ capabilities = ["read"] }}\n'
        f'path "secret/data/{unique}/closed" {{ capabilities = ["deny"] }}\n'
    )
    root.sys.create_or_update_policy(f"deny-{unique}", policy)
    token = root.auth.token.create(policies=[f"deny-{unique}"], ttl="10m")["auth"]["client_token"]
    return token


def test_a_path_the_policy_denies_is_a_permission_error(vault, unique, two_secrets):
    provider = vault(token=two_secrets)
    assert provider.resolve(f"vault-test:{unique}/open#v").value == "open-value"
    with pytest.raises(PermissionDeniedError) as caught:
        provider.resolve(f"vault-test:{unique}/closed#v")
    assert str(caught.value) == f"vault-test: {unique}/closed#v: permission denied: permission denied"
    assert "closed-value" not in str(caught.value)


def test_an_unknown_token_is_an_authentication_error(vault, unique):
    with pytest.raises(AuthenticationError, match="the token is invalid, expired or revoked"):
        vault(token="not-a-real-token").resolve(f"vault-test:{unique}/open#v")


def test_a_revoked_token_is_an_authentication_error(vault, bao, unique, two_secrets):
    provider = vault(token=two_secrets)
    provider.resolve(f"vault-test:{unique}/open#v")
    bao.client().auth.token.revoke(two_secrets)
    with pytest.raises(AuthenticationError, match="the token is invalid, expired or revoked"):
        provider.resolve(f"vault-test:{unique}/open#v")


def test_test_connection_reports_a_bad_token(vault):
    with pytest.raises(AuthenticationError, match="the token is invalid"):
        vault(token="not-a-real-token").test_connection()
