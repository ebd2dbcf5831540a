"""AWS identities with moto's IAM checks on: a denied read, unknown keys, an assumed role, a trust that refuses."""

from __future__ import annotations

import pytest

from security.providers.base import AuthenticationError, PermissionDeniedError, UnreachableError

from .servers import free_port


@pytest.fixture
def stored(moto, unique):
    moto.secretsmanager().create_secret(Name=f"{unique}/svc", SecretString='{"token": "aws-read-me"}')
    return f"{unique}/svc"


def test_a_policy_that_denies_the_read_is_a_permission_error(aws, moto, stored):
    with pytest.raises(PermissionDeniedError) as caught:
        aws(**moto.denied).resolve(f"aws-test:{stored}#token")
    assert "AccessDenied" in str(caught.value) and "secretsmanager:GetSecretValue" in str(caught.value)
    assert "aws-read-me" not in str(caught.value)


def test_unknown_access_keys_are_an_authentication_error(aws, stored):
    keys = {"access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
    with pytest.raises(AuthenticationError, match="InvalidClientTokenId") as caught:
        aws(**keys).resolve(f"aws-test:{stored}#token")
    assert "wJalrXUtnFEMI" not in str(caught.value)


def test_a_role_is_assumed_and_its_credentials_read_the_secret(aws, moto, stored):
    provider = aws(role_arn=moto.reader_role, role_session_name="runner-test")
    assert provider.resolve(f"aws-test:{stored}#token").value == "aws-read-me"
    assert "assumed-role/secret-reader/runner-test" in provider.test_connection()


def test_a_role_whose_trust_refuses_the_caller_is_an_authentication_error(aws, moto, stored):
    with pytest.raises(AuthenticationError, match=f"cannot assume role {moto.reader_role}: AccessDenied"):
        aws(**moto.denied, role_arn=moto.reader_role).resolve(f"aws-test:{stored}#token")


def test_an_endpoint_with_nothing_listening_is_unreachable(aws):
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(UnreachableError, match=f"cannot connect to {url}"):
        aws(endpoint_url=url, timeout=2).resolve("aws-test:any")


def test_a_profile_that_does_not_exist_is_an_authentication_error(aws, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    with pytest.raises(AuthenticationError, match="nobody"):
        aws(auth="profile", profile="nobody").resolve("aws-test:any")


def test_the_default_chain_uses_the_workers_environment(aws, moto, stored, monkeypatch):
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask an instance metadata address
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto.admin["access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto.admin["secret_access_key"])
    provider = aws(auth="default", access_key_id="", secret_access_key="")
    assert provider.resolve(f"aws-test:{stored}#token").value == "aws-read-me"
