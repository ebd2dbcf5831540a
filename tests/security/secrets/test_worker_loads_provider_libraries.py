"""A worker imports the client library of each kind of secret provider configured as it starts
(boto3 alone takes ~0.25 s), not in the middle of its first run that reads a secret."""

from __future__ import annotations

import logging
import sys

import pytest

from security import secrets_extension
from security.models import SecretProvider
from security.secrets_extension import SecretsExtension
from workflows import extensions


@pytest.mark.django_db
def test_a_starting_worker_loads_the_configured_kinds_only(monkeypatch, caplog):
    SecretProvider.objects.create(name="prod", kind="aws")
    SecretProvider.objects.create(name="prod2", kind="aws")
    SecretProvider.objects.create(name="ops", kind="vault")
    SecretProvider.objects.create(name="odd", kind="nope")  # left by an install that had it
    asked: list[str] = []
    real = secrets_extension.provider_class

    def provider_class(kind: str):
        asked.append(kind)
        return real(kind)

    monkeypatch.setattr(secrets_extension, "provider_class", provider_class)
    with caplog.at_level(logging.WARNING, logger="runner.secrets"):
        extensions.warm_up()
    assert sorted(asked) == ["aws", "nope", "vault"]  # each kind once; no Azure library for nothing
    assert "security.providers.aws" in sys.modules and "security.providers.vault" in sys.modules
    assert "secret provider kind 'nope' could not be loaded" in caplog.text


@pytest.mark.django_db
def test_no_provider_no_import(monkeypatch):
    asked: list[str] = []
    monkeypatch.setattr(secrets_extension, "provider_class", asked.append)
    SecretsExtension.warm_up()
    assert asked == []
