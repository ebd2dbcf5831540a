"""The provider's picker and its write form, on a real OpenBao: operators list the paths a
provider holds (names only) to write a reference; admins store a new version of a secret,
which the audit log records (who, which path and key, never the value)."""

from __future__ import annotations

import pytest

from security.models import ProviderChange

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider(make_provider, vault_secret):
    vault_secret({"password": "first-value-123"}, path="pick/database/prod")
    vault_secret({"token": "other-value-456"}, path="pick/api")
    return make_provider("vault-pick")


def test_operators_browse_folders_and_paths(client_as, provider):
    client = client_as("operator")
    page = client.get(f"/providers/{provider.pk}/paths/?prefix=pick/").content.decode()
    assert 'href="?prefix=pick/database/"' in page and "vault-pick:pick/api#" in page
    assert "other-value-456" not in page and "first-value-123" not in page
    inner = client.get(f"/providers/{provider.pk}/paths/", {"prefix": "pick/database/"}, HTTP_ACCEPT="application/json")
    assert inner.json() == {"prefix": "pick/database/", "paths": ["pick/database/prod"], "error": ""}
    assert f'href="/providers/{provider.pk}/write/' not in page  # writing is for admins
    assert client_as("viewer").get(f"/providers/{provider.pk}/paths/").status_code == 403


def test_an_unreachable_store_says_so(client_as, make_provider):
    broken = make_provider("vault-down", url="http://127.0.0.1:9")
    response = client_as("operator").get(f"/providers/{broken.pk}/paths/", HTTP_ACCEPT="application/json")
    assert response.status_code == 502
    assert response.json()["error"].startswith("vault-down: ") and "unreachable" in response.json()["error"]


def test_admins_write_a_new_version_and_the_audit_log_says_where(client_as, provider, bao):
    client = client_as("admin")
    kv = bao.client().secrets.kv.v2
    before = kv.read_secret_version(path="pick/database/prod", mount_point="secret", raise_on_deleted_version=True)
    form = client.get(f"/providers/{provider.pk}/write/?path=pick/database/prod").content.decode()
    assert 'value="pick/database/prod"' in form and 'type="password"' in form
    response = client.post(
        f"/providers/{provider.pk}/write/",
        {"path": "pick/database/prod", "key": "password", "value": "second-value-789"},
    )
    assert response.status_code == 302
    stored = kv.read_secret_version(path="pick/database/prod", mount_point="secret", raise_on_deleted_version=True)
    assert stored["data"]["data"] == {"password": "second-value-789"}
    assert stored["data"]["metadata"]["version"] == before["data"]["metadata"]["version"] + 1
    change = ProviderChange.objects.filter(provider=provider).first()
    assert (change.action, change.fields, change.username) == ("wrote", ["pick/database/prod#password"], "admin")
    page = client.get(f"/providers/{provider.pk}/").content.decode()
    assert "wrote: pick/database/prod#password" in page and "second-value-789" not in page


def test_a_refused_write_shows_the_cause_and_keeps_no_value(client_as, make_provider):
    broken = make_provider("vault-down", url="http://127.0.0.1:9")
    page = (
        client_as("admin")
        .post(f"/providers/{broken.pk}/write/", {"path": "x/y", "key": "k", "value": "never-shown-value"})
        .content.decode()
    )
    assert "unreachable" in page and "never-shown-value" not in page
    assert not ProviderChange.objects.filter(action="wrote").exists()


def test_operators_cannot_write(client_as, provider):
    client = client_as("operator")
    assert client.get(f"/providers/{provider.pk}/write/").status_code == 403
    assert client.post(f"/providers/{provider.pk}/write/", {"path": "a", "value": "b"}).status_code == 403
