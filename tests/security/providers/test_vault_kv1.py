"""Vault KV version 1 mounts: plain reads, no versions, and a mount set to the wrong version (OpenBao)."""

from __future__ import annotations

import pytest

from security.providers.base import InvalidReference, NotFoundError, ProviderError


def test_a_kv1_secret_is_read_without_a_version(vault, bao, unique):
    bao.client().secrets.kv.v1.create_or_update_secret(f"{unique}/api", {"key": "v1-value"}, mount_point="kv1")
    secret = vault(mount="kv1", kv_version="1").resolve(f"vault-test:{unique}/api#key")
    assert (secret.value, secret.version) == ("v1-value", "")


def test_asking_a_kv1_mount_for_a_version_is_refused(vault, bao, unique):
    bao.client().secrets.kv.v1.create_or_update_secret(f"{unique}/api", {"key": "v1-value"}, mount_point="kv1")
    with pytest.raises(InvalidReference, match="KV version 1 mount, which keeps no versions"):
        vault(mount="kv1", kv_version="1").resolve(f"vault-test:{unique}/api#key@2")


def test_a_missing_kv1_secret_is_not_found(vault, unique):
    with pytest.raises(NotFoundError, match=f"no secret at kv1/{unique}/none"):
        vault(mount="kv1", kv_version="1").resolve(f"vault-test:{unique}/none#key")


def test_writing_to_kv1_stores_the_keys(vault, bao, unique):
    assert vault(mount="kv1", kv_version="1").write(f"{unique}/w", {"a": "1", "b": "2"}) == ""
    assert bao.client().secrets.kv.v1.read_secret(f"{unique}/w", mount_point="kv1")["data"] == {"a": "1", "b": "2"}


def test_test_connection_tells_a_kv1_mount_set_up_as_kv2(vault):
    with pytest.raises(ProviderError, match="kv1/ is KV version 1, but the provider is set to version 2"):
        vault(mount="kv1", kv_version="2").test_connection()


def test_test_connection_confirms_the_kv_version(vault):
    assert vault(mount="kv1", kv_version="1").test_connection().endswith("kv1/ is KV version 1")
