"""AWS Secrets Manager values: JSON with #key, plain strings, SecretBinary, stages and version ids (moto server)."""

from __future__ import annotations

import base64
import json

import pytest

from security.providers.base import NotFoundError


@pytest.fixture
def rotated(moto, unique):
    """A JSON secret rotated once: AWSPREVIOUS holds old-pw, AWSCURRENT new-pw."""
    sm = moto.secretsmanager()
    name = f"{unique}/db"
    first = sm.create_secret(Name=name, SecretString=json.dumps({"password": "old-pw", "user": "app"}))["VersionId"]
    second = sm.put_secret_value(SecretId=name, SecretString=json.dumps({"password": "new-pw", "user": "app"}))[
        "VersionId"
    ]
    return name, first, second


def test_a_key_of_a_json_secret_is_read_at_the_current_version(aws, rotated):
    name, _, current = rotated
    secret = aws().resolve(f"aws-test:{name}#password")
    assert (secret.value, secret.version) == ("new-pw", current)


def test_the_previous_stage_is_read_by_its_label(aws, rotated):
    name, previous, _ = rotated
    secret = aws().resolve(f"aws-test:{name}#password@AWSPREVIOUS")
    assert (secret.value, secret.version) == ("old-pw", previous)


def test_a_version_id_reads_that_version(aws, rotated):
    name, previous, _ = rotated
    assert aws().resolve(f"aws-test:{name}#password@{previous}").value == "old-pw"


def test_without_a_key_the_whole_string_is_the_value(aws, rotated):
    name, _, _ = rotated
    assert json.loads(aws().resolve(f"aws-test:{name}").value) == {"password": "new-pw", "user": "app"}


def test_a_key_of_a_secret_that_is_not_json_is_not_found(aws, moto, unique):
    moto.secretsmanager().create_secret(Name=f"{unique}/plain", SecretString="not json at all")
    with pytest.raises(NotFoundError, match="the secret is not a JSON object, so it has no key 'password'") as caught:
        aws().resolve(f"aws-test:{unique}/plain#password")
    assert "not json at all" not in str(caught.value)


def test_a_binary_secret_that_is_text_comes_back_as_text(aws, moto, unique):
    moto.secretsmanager().create_secret(Name=f"{unique}/bin", SecretBinary="binär-text".encode())
    secret = aws().resolve(f"aws-test:{unique}/bin")
    assert (secret.value, secret.encoding) == ("binär-text", "")


def test_a_binary_secret_of_raw_bytes_comes_back_as_base64(aws, moto, unique):
    raw = bytes([0xFF, 0x00, 0x10, 0x80, 0x7F])
    moto.secretsmanager().create_secret(Name=f"{unique}/raw", SecretBinary=raw)
    secret = aws().resolve(f"aws-test:{unique}/raw")
    assert (base64.b64decode(secret.value), secret.encoding) == (raw, "base64")


def test_a_missing_secret_is_not_found_by_its_code(aws, unique):
    with pytest.raises(NotFoundError) as caught:
        aws().resolve(f"aws-test:{unique}/missing#k")
    assert str(caught.value).startswith(f"aws-test: {unique}/missing#k: not found: ResourceNotFoundException:")


def test_a_stage_nobody_set_is_not_found(aws, rotated):
    name, _, _ = rotated
    with pytest.raises(NotFoundError, match="ResourceNotFoundException"):
        aws().resolve(f"aws-test:{name}#password@NOSUCHSTAGE")
