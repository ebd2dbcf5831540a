"""Vault KV version 2: the latest value, an older version, deleted and missing versions (OpenBao)."""

from __future__ import annotations

import pytest

from security.providers.base import InvalidReference, NotFoundError


@pytest.fixture
def db_secret(bao, unique):
    """A secret with two versions: password first-pw, then second-pw."""
    root = bao.client()
    path = f"{unique}/db"
    root.secrets.kv.v2.create_or_update_secret(path, {"password": "first-pw", "user": "app"})
    root.secrets.kv.v2.create_or_update_secret(path, {"password": "second-pw", "user": "app"})
    return path


def test_the_latest_version_is_read_with_its_number(vault, db_secret):
    secret = vault().resolve(f"vault-test:{db_secret}#password")
    assert (secret.value, secret.version) == ("second-pw", "2")


def test_an_older_version_is_read_when_asked_for(vault, db_secret):
    secret = vault().resolve(f"vault-test:{db_secret}#password@1")
    assert (secret.value, secret.version) == ("first-pw", "1")


def test_a_version_that_never_existed_is_not_found(vault, db_secret):
    with pytest.raises(NotFoundError) as caught:
        vault().resolve(f"vault-test:{db_secret}#password@7")
    assert (
        str(caught.value) == f"vault-test: {db_secret}#password@7: not found: no secret at secret/{db_secret} version 7"
    )


def test_a_deleted_version_is_not_found_and_says_it_was_deleted(vault, bao, db_secret):
    bao.client().secrets.kv.v2.delete_secret_versions(db_secret, [1])
    with pytest.raises(NotFoundError, match="that version was deleted"):
        vault().resolve(f"vault-test:{db_secret}#password@1")


def test_a_missing_key_names_the_keys_but_no_value(vault, db_secret):
    with pytest.raises(NotFoundError) as caught:
        vault().resolve(f"vault-test:{db_secret}#pasword")
    assert "no key 'pasword' (keys: password, user)" in str(caught.value)
    assert "second-pw" not in str(caught.value) and "'app'" not in str(caught.value)


def test_a_secret_with_several_keys_needs_one_named(vault, db_secret):
    with pytest.raises(NotFoundError, match=r"name a key with '#key': the secret has keys password, user"):
        vault().resolve(f"vault-test:{db_secret}")


def test_a_secret_with_one_key_needs_no_key(vault, bao, unique):
    bao.client().secrets.kv.v2.create_or_update_secret(f"{unique}/token", {"token": "only-value"})
    assert vault().resolve(f"vault-test:{unique}/token").value == "only-value"


def test_a_missing_path_is_not_found(vault, unique):
    with pytest.raises(NotFoundError, match=f"no secret at secret/{unique}/nothing"):
        vault().resolve(f"vault-test:{unique}/nothing#password")


def test_a_version_that_is_not_a_number_is_refused_before_asking(vault, db_secret):
    with pytest.raises(InvalidReference, match="a Vault KV version is a number"):
        vault().resolve(f"vault-test:{db_secret}#password@latest")


def test_non_text_values_come_back_as_json(vault, bao, unique):
    bao.client().secrets.kv.v2.create_or_update_secret(f"{unique}/typed", {"port": 5432, "hosts": ["a", "b"]})
    provider = vault()
    assert provider.resolve(f"vault-test:{unique}/typed#port").value == "5432"
    assert provider.resolve(f"vault-test:{unique}/typed#hosts").value == '["a", "b"]'
