"""Vault over TLS: a CA bundle pasted as PEM or given as a file, an untrusted certificate, no verification (OpenBao -dev-tls)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from security.providers.base import TLSError

from .servers import BaoServer


@pytest.fixture(scope="module")
def tls_bao():
    with BaoServer(tls=True) as server:
        server.client().secrets.kv.v2.create_or_update_secret("tls/app", {"k": "over-tls"})
        yield server


def test_the_servers_ca_pasted_as_pem_is_trusted(vault, tls_bao):
    provider = vault(url=tls_bao.url, token=tls_bao.token, ca_cert=Path(tls_bao.ca_file).read_text())
    assert provider.resolve("vault-test:tls/app#k").value == "over-tls"


def test_the_servers_ca_as_a_file_is_trusted(vault, tls_bao):
    provider = vault(url=tls_bao.url, token=tls_bao.token, ca_path=tls_bao.ca_file)
    assert provider.resolve("vault-test:tls/app#k").value == "over-tls"


def test_an_untrusted_certificate_is_a_tls_error(vault, tls_bao):
    with pytest.raises(TLSError) as caught:
        vault(url=tls_bao.url, token=tls_bao.token).resolve("vault-test:tls/app#k")
    assert "certificate verify failed" in str(caught.value)


def test_http_to_a_tls_listener_is_a_tls_error(vault, tls_bao):
    with pytest.raises(TLSError, match="expects https://"):
        vault(url=tls_bao.url.replace("https://", "http://"), token=tls_bao.token).resolve("vault-test:tls/app#k")


def test_verification_can_be_turned_off(vault, tls_bao):
    provider = vault(url=tls_bao.url, token=tls_bao.token, verify_tls=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # urllib3 warns about unverified HTTPS, as it should
        assert provider.resolve("vault-test:tls/app#k").value == "over-tls"
