"""AWS for admins: listing names for the picker, writing new secrets and versions, testing the connection (moto)."""

from __future__ import annotations

import json


def test_names_are_listed_by_prefix(aws, moto, unique):
    sm = moto.secretsmanager()
    for name in ("prod/db", "prod/api", "dev/db"):
        sm.create_secret(Name=f"{unique}/{name}", SecretString="x")
    assert aws().list_paths(f"{unique}/prod/") == [f"{unique}/prod/api", f"{unique}/prod/db"]


def test_writing_creates_the_secret_then_adds_versions(aws, moto, unique):
    provider = aws()
    first = provider.write(f"{unique}/new", {"password": "w1"})
    second = provider.write(f"{unique}/new", {"password": "w2"})
    assert first != second
    assert provider.resolve(f"aws-test:{unique}/new#password@{first}").value == "w1"
    stored = moto.secretsmanager().get_secret_value(SecretId=f"{unique}/new")
    assert (json.loads(stored["SecretString"]), stored["VersionId"]) == ({"password": "w2"}, second)


def test_test_connection_names_the_identity(aws):
    assert aws().test_connection() == "authenticated as arn:aws:iam::123456789012:user/admin in us-east-1"
