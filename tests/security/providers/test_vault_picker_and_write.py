"""Vault for admins: listing paths for the picker, writing a secret, testing the connection (OpenBao)."""

from __future__ import annotations


def test_paths_are_listed_by_folder_and_prefix(vault, bao, unique):
    root = bao.client()
    for path in ("db/prod", "db/staging", "api/key"):
        root.secrets.kv.v2.create_or_update_secret(f"{unique}/{path}", {"k": "v"})
    provider = vault()
    assert provider.list_paths(f"{unique}/") == [f"{unique}/api/", f"{unique}/db/"]
    assert provider.list_paths(f"{unique}/db/") == [f"{unique}/db/prod", f"{unique}/db/staging"]
    assert provider.list_paths(f"{unique}/db/pr") == [f"{unique}/db/prod"]
    assert provider.list_paths(f"{unique}/nothing/") == []


def test_writing_a_mapping_makes_a_new_version_readable_by_key(vault, unique):
    provider = vault()
    assert provider.write(f"{unique}/new", {"user": "u1", "password": "written-1"}) == "1"
    assert provider.write(f"{unique}/new", {"user": "u1", "password": "written-2"}) == "2"
    assert provider.resolve(f"vault-test:{unique}/new#password@1").value == "written-1"
    assert provider.resolve(f"vault-test:{unique}/new#password").value == "written-2"


def test_writing_a_string_stores_it_under_value(vault, bao, unique):
    vault().write(f"{unique}/plain", "just-a-string")
    assert bao.client().secrets.kv.v2.read_secret_version(f"{unique}/plain", raise_on_deleted_version=True)["data"][
        "data"
    ] == {"value": "just-a-string"}


def test_test_connection_names_the_identity_and_the_mount(vault, bao):
    assert vault().test_connection() == f"authenticated (token) at {bao.url}; secret/ is KV version 2"
