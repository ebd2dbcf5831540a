"""Resolving a task's secrets at attempt start: environment, lineage, masking, errors that name the variable (OpenBao)."""

from __future__ import annotations

import pytest

from security.providers.base import NotFoundError
from security.providers.masking import Masker
from security.providers.resolve import ResolutionError, ScopeError, SecretCache, SecretResolver, UnknownProviderError


@pytest.fixture
def stored(bao, unique):
    bao.client().secrets.kv.v2.create_or_update_secret(f"{unique}/db", {"password": "resolver-pw", "user": "app-user"})
    bao.client().secrets.kv.v2.create_or_update_secret(f"{unique}/db", {"password": "resolver-pw2", "user": "app-user"})
    return f"vault-test:{unique}/db"


def test_a_tasks_secrets_become_its_environment_with_lineage(vault, stored):
    resolver = SecretResolver({"vault-test": vault()})
    resolved = resolver.resolve_env({"DB_PASSWORD": f"{stored}#password", "DB_OLD": f"{stored}#password@1"})
    assert resolved.env == {"DB_PASSWORD": "resolver-pw2", "DB_OLD": "resolver-pw"}
    assert [r.as_dict() for r in resolved.resolutions] == [
        {"env": "DB_PASSWORD", "provider": "vault-test", "path": stored.split(":")[1], "key": "password",
         "requested_version": "", "version": "2", "cached": False},
        {"env": "DB_OLD", "provider": "vault-test", "path": stored.split(":")[1], "key": "password",
         "requested_version": "1", "version": "1", "cached": False},
    ]  # fmt: skip
    assert "resolver-pw" not in repr(resolved)


def test_every_resolved_value_is_masked_before_the_task_starts(vault, stored):
    masker = Masker()
    SecretResolver({"vault-test": vault()}, masker=masker).resolve_env({"P": f"{stored}#password"})
    assert masker("connecting with resolver-pw2") == "connecting with ***"


def test_a_second_attempt_reads_from_the_cache_and_other_keys_share_the_read(vault, stored, bao):
    provider = vault()
    resolver = SecretResolver({"vault-test": provider}, cache=SecretCache(ttl=60))
    resolver.resolve_env({"P": f"{stored}#password"})
    bao.client().secrets.kv.v2.create_or_update_secret(stored.split(":")[1], {"password": "rotated", "user": "x"})
    again = resolver.resolve_env({"P": f"{stored}#password", "U": f"{stored}#user"})
    assert again.env == {"P": "resolver-pw2", "U": "app-user"}
    assert [r.cached for r in again.resolutions] == [True, True]


def test_a_failure_names_the_variable_the_reference_and_the_cause(vault, stored):
    resolver = SecretResolver({"vault-test": vault()})
    with pytest.raises(ResolutionError) as caught:
        resolver.resolve_env({"API_KEY": f"{stored}#api_key"})
    assert str(caught.value) == (
        f"secret API_KEY: vault-test: {stored.split(':')[1]}#api_key: not found: "
        "the secret has no key 'api_key' (keys: password, user)"
    )
    assert isinstance(caught.value.error, NotFoundError)


def test_values_read_before_a_failure_are_masked_all_the_same(vault, stored):
    masker = Masker()
    resolver = SecretResolver({"vault-test": vault()}, masker=masker)
    with pytest.raises(ResolutionError):
        resolver.resolve_env({"P": f"{stored}#password", "X": f"{stored}#missing"})
    assert masker("resolver-pw2") == "***"


def test_an_unknown_provider_or_a_scope_refusal_is_a_resolution_error():
    def lookup(name: str):
        raise ScopeError(name, None, "workflow 'etl' may not use it")

    with pytest.raises(
        ResolutionError, match="secret A: nowhere: no such provider: no secret provider is named 'nowhere'"
    ):
        SecretResolver({}).resolve_env({"A": "nowhere:x#y"})
    with pytest.raises(ResolutionError, match="secret A: prod: not allowed: workflow 'etl' may not use it"):
        SecretResolver(lookup).resolve_env({"A": "prod:x#y"})
    assert UnknownProviderError.kind == "unknown_provider"


def test_a_bad_variable_name_is_refused(vault, stored):
    with pytest.raises(ResolutionError, match="'1X' is not a valid environment variable name"):
        SecretResolver({"vault-test": vault()}).resolve_env({"1X": f"{stored}#password"})


def test_a_value_too_short_to_mask_is_resolved_with_a_warning(vault, bao, unique):
    bao.client().secrets.kv.v2.create_or_update_secret(f"{unique}/pin", {"pin": "42"})
    resolved = SecretResolver({"vault-test": vault()}).resolve_env({"PIN": f"vault-test:{unique}/pin#pin"})
    assert resolved.env == {"PIN": "42"}
    assert resolved.warnings == [
        f"secret PIN (vault-test:{unique}/pin#pin) is shorter than 4 characters (not counting spaces), "
        "so it is not masked in logs"
    ]
