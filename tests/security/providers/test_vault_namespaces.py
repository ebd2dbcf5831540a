"""Vault namespaces: a provider set to a namespace reads that namespace's mounts only (OpenBao)."""

from __future__ import annotations

import pytest

from security.providers.base import NotFoundError


@pytest.fixture
def namespace(bao, unique):
    root = bao.client()
    root.sys.create_namespace(unique)
    inside = bao.client(namespace=unique)
    inside.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
    inside.secrets.kv.v2.create_or_update_secret("team/db", {"password": "namespaced-pw"})
    return unique


def test_a_provider_in_the_namespace_reads_its_secret(vault, namespace):
    assert vault(namespace=namespace).resolve("vault-test:team/db#password").value == "namespaced-pw"


def test_the_same_path_outside_the_namespace_is_not_found(vault, namespace):
    with pytest.raises(NotFoundError):
        vault().resolve("vault-test:team/db#password")
