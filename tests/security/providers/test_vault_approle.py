"""Vault AppRole: login, a wrong secret id, and logging in again when the token expires or is revoked (OpenBao)."""

from __future__ import annotations

import hvac
import pytest

from security.providers.base import AuthenticationError
from tests.conftest import wait_until

READ_ALL = 'path "secret/data/*" { capabilities = ["read"] }'


@pytest.fixture
def stored(bao, unique):
    bao.client().secrets.kv.v2.create_or_update_secret(f"{unique}/svc", {"password": "approle-read-me"})
    return f"vault-test:{unique}/svc#password"


def test_an_approle_logs_in_and_reads(vault, approle, stored):
    role_id, secret_id = approle(READ_ALL)
    provider = vault(auth="approle", role_id=role_id, secret_id=secret_id)
    assert provider.resolve(stored).value == "approle-read-me"


def test_a_wrong_secret_id_is_an_authentication_error_that_says_why(vault, approle, stored):
    role_id, _ = approle(READ_ALL)
    with pytest.raises(AuthenticationError) as caught:
        vault(auth="approle", role_id=role_id, secret_id="00000000-0000-0000-0000-000000000000").resolve(stored)
    assert "AppRole login refused: invalid role or secret ID" in str(caught.value)
    assert "00000000-0000" not in str(caught.value)


def test_a_revoked_token_is_replaced_by_logging_in_again(vault, approle, bao, stored):
    role_id, secret_id = approle(READ_ALL)
    provider = vault(auth="approle", role_id=role_id, secret_id=secret_id)
    provider.resolve(stored)
    first_token = provider._client.token
    bao.client().auth.token.revoke(first_token)  # what an expiry looks like to the client: 403

    assert provider.resolve(stored).value == "approle-read-me"
    assert provider._client.token != first_token


def test_an_expired_token_is_replaced_by_logging_in_again(vault, approle, bao, stored):
    role_id, secret_id = approle(READ_ALL, token_ttl="1s", token_max_ttl="1s")
    provider = vault(auth="approle", role_id=role_id, secret_id=secret_id)
    provider.resolve(stored)
    first_token = provider._client.token
    root = bao.client()

    def expired() -> bool:
        try:
            root.auth.token.lookup(first_token)
        except hvac.exceptions.Forbidden:
            return True
        return False

    wait_until(expired, timeout=15, message="the AppRole token did not expire")
    assert provider.resolve(stored).value == "approle-read-me"
    assert provider._client.token != first_token
