"""AWS identities with moto's IAM checks on: a denied read, unknown keys, an assumed role, a trust that refuses."""

from __future__ import annotations

import pytest

from security.providers.base import AuthenticationError, PermissionDeniedError, TLSError, UnreachableError

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


def test_a_profile_of_the_workers_files_reads_the_secret(aws, moto, stored, monkeypatch, tmp_path):
    """A named profile from the worker's own AWS files, and only that one: the file's default
    profile holds keys moto does not know, so reading with it would fail."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = not-known-to-moto\n"
        f"[reader]\naws_access_key_id = {moto.admin['access_key_id']}\n"
        f"aws_secret_access_key = {moto.admin['secret_access_key']}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    provider = aws(auth="profile", profile="reader", access_key_id="", secret_access_key="")
    assert provider.resolve(f"aws-test:{stored}#token").value == "aws-read-me"
    with pytest.raises(AuthenticationError):
        aws(auth="profile", profile="default", access_key_id="", secret_access_key="").resolve(
            f"aws-test:{stored}#token"
        )


def test_the_default_chain_uses_the_workers_environment(aws, moto, stored, monkeypatch):
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask an instance metadata address
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto.admin["access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto.admin["secret_access_key"])
    provider = aws(auth="default", access_key_id="", secret_access_key="")
    assert provider.resolve(f"aws-test:{stored}#token").value == "aws-read-me"


def test_an_endpoint_whose_certificate_is_not_trusted_is_a_tls_error(aws, keyvault):
    """An HTTPS endpoint with a throwaway CA's certificate (the local Key Vault server's): refused
    unless that CA is given, and the error says TLS, not "unreachable"."""
    with pytest.raises(TLSError, match=f"{keyvault.url}: ") as caught:
        aws(endpoint_url=keyvault.url, timeout=5).test_connection()
    assert "certificate" in str(caught.value).lower()
    trusting = aws(endpoint_url=keyvault.url, timeout=5, ca_cert=keyvault.ca.ca_pem)
    with pytest.raises(Exception) as past_tls:  # the handshake passes; the server is not AWS
        trusting.test_connection()
    assert not isinstance(past_tls.value, TLSError)
