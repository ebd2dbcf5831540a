"""Vault that cannot serve: a sealed server (`bao operator seal`) and an address nothing listens on."""

from __future__ import annotations

import pytest

from security.providers import build_provider
from security.providers.base import SealedError, UnreachableError

from .servers import BaoServer, free_port


def test_a_sealed_server_is_reported_as_sealed():
    with BaoServer() as server:  # its own server: sealing is for good
        server.client().secrets.kv.v2.create_or_update_secret("app", {"k": "sealed-away"})
        provider = build_provider("vault", "sealed", {"url": server.url, "token": server.token})
        assert provider.resolve("sealed:app#k").value == "sealed-away"

        server.cli("operator", "seal")

        with pytest.raises(SealedError) as caught:
            provider.resolve("sealed:app#k")
        assert str(caught.value) == f"sealed: app#k: sealed: {server.url} is sealed: an operator must unseal it"
        with pytest.raises(SealedError):
            provider.test_connection()
        provider.close()


def test_an_address_with_nothing_listening_is_unreachable():
    url = f"http://127.0.0.1:{free_port()}"
    provider = build_provider("vault", "gone", {"url": url, "token": "t", "timeout": 2})
    with pytest.raises(UnreachableError) as caught:
        provider.resolve("gone:app#k")
    assert str(caught.value) == f"gone: app#k: unreachable: cannot connect to {url}: connection refused"


def test_an_approle_login_to_nothing_is_unreachable_not_an_authentication_error():
    url = f"http://127.0.0.1:{free_port()}"
    provider = build_provider("vault", "gone", {"url": url, "auth": "approle", "role_id": "r", "secret_id": "s"})
    with pytest.raises(UnreachableError):
        provider.test_connection()
