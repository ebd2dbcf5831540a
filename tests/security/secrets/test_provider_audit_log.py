"""Every change to a provider is in its audit log: who, when, which fields (never a value)."""

from __future__ import annotations

import json

import pytest

from security.models import ProviderChange, SecretProvider

from .conftest import vault_form

pytestmark = pytest.mark.django_db


def test_create_and_change_are_logged_by_field_name_only(client_as, users, bao):
    client = client_as("admin")
    client.post("/providers/new/", vault_form(bao.url, vault__token="hvs.first-token-1234"))
    provider = SecretProvider.objects.get(name="vault-prod")
    client.post(f"/providers/{provider.pk}/edit/",
                vault_form(bao.url, vault__token="hvs.second-token-5678", vault__mount="kv", scope_workflows="etl_*"))  # fmt: skip
    changed, created = ProviderChange.objects.filter(provider=provider)
    assert (created.action, created.user, created.username) == ("created", users["admin"], "admin")
    assert (changed.action, changed.fields) == ("changed", ["credentials.token", "options.mount", "scope_workflows"])
    assert changed.field_labels == ["Token", "KV mount", "Scope: workflows"]
    stored = json.dumps(list(ProviderChange.objects.values()), default=str)
    assert "hvs.first-token" not in stored and "hvs.second-token" not in stored and '"kv"' not in stored
    page = client.get(f"/providers/{provider.pk}/").content.decode()
    assert "changed: Token, KV mount, Scope: workflows" in page


def test_saving_without_a_change_logs_nothing(client_as, make_provider, bao):
    provider = make_provider("vault-prod")
    client_as("admin").post(f"/providers/{provider.pk}/edit/", vault_form(bao.url))
    assert list(ProviderChange.objects.filter(provider=provider).values_list("action", flat=True)) == ["created"]
