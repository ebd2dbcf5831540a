"""Secret providers in the browser: an admin adds a Vault provider (OpenBao, started here) with
AppRole, tests the connection (success, then the exact error for a wrong secret id), saves it,
and the edit form does not show the stored secret; an operator cannot open the form."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.security.providers.servers import BaoServer

from .conftest import login, shot


@pytest.fixture(scope="module")
def bao() -> Iterator[tuple[BaoServer, str, str]]:
    """OpenBao in dev mode with an AppRole that may read secret/: (server, role_id, secret_id)."""
    with BaoServer() as server:
        root = server.client()
        root.sys.enable_auth_method("approle")
        root.sys.create_or_update_policy("reader", 'path "secret/*" { capabilities = ["read", "list"] }')
        root.auth.approle.create_or_update_approle("runner", token_policies=["reader"])
        role_id = root.auth.approle.read_role_id("runner")["data"]["role_id"]
        secret_id = root.auth.approle.generate_secret_id("runner")["data"]["secret_id"]
        yield server, role_id, secret_id


def test_an_admin_adds_a_vault_provider_and_tests_the_connection(page, server, bao):
    vault, role_id, secret_id = bao
    login(page, server, "admin")
    page.click("nav.mainnav >> text=Secrets")
    page.click("#new-provider")
    page.fill("#id_name", "vault-browser")
    page.select_option("#id_kind", "vault")
    page.fill("#id_vault__url", vault.url)
    assert page.locator("#id_vault__token").is_visible() and not page.locator("#id_vault__role_id").is_visible()
    page.select_option("#id_vault__auth", "approle")
    assert page.locator("#id_vault__role_id").is_visible() and not page.locator("#id_vault__token").is_visible()
    assert not page.locator("#id_aws__region").is_visible()  # another kind's fields
    page.fill("#id_vault__role_id", role_id)
    page.fill("#id_vault__secret_id", secret_id)
    page.fill("#id_scope_workflows", "browser_*")

    page.click("#test-connection")
    page.wait_for_selector("#test-result.ok")
    assert page.inner_text("#test-result") == f"✓ authenticated (AppRole) at {vault.url}; secret/ is KV version 2"
    shot(page, "secret_provider_test_ok")

    page.fill("#id_vault__secret_id", "not-the-secret-id")
    page.click("#test-connection")
    page.wait_for_selector("#test-result.bad")
    assert page.inner_text("#test-result") == (
        "✗ vault-browser: authentication failed: AppRole login refused: invalid role or secret ID"
    )
    shot(page, "secret_provider_test_wrong_secret_id")

    page.fill("#id_vault__secret_id", secret_id)
    page.click("#save-provider")
    page.wait_for_url(f"{server.url}/providers/*/")
    assert "Secret provider vault-browser created." in page.inner_text(".messages")
    assert "Secret ID stored" in page.inner_text("#provider-settings")
    shot(page, "secret_provider_page")

    page.click("#edit-provider")
    page.wait_for_selector("#provider-form")
    assert page.input_value("#id_vault__secret_id") == ""
    assert secret_id not in page.content()
    assert page.get_attribute("#id_vault__secret_id", "placeholder") == "stored: leave blank to keep"
    page.click("#test-connection")  # blank: the stored secret id is used
    page.wait_for_selector("#test-result.ok")
    shot(page, "secret_provider_edit_form")
    page.goto(f"{server.url}/providers/")
    assert page.locator("#provider-table tr[data-provider='vault-browser']").inner_text().split("\t")[:2] == [
        "vault-browser",
        "HashiCorp Vault",
    ]
    shot(page, "secret_provider_list_admin")


def test_an_operator_cannot_open_the_provider_form(page, server):
    login(page, server, "operator")
    page.goto(f"{server.url}/providers/")
    assert page.locator("#new-provider").count() == 0
    shot(page, "secret_provider_list_operator")
    response = page.goto(f"{server.url}/providers/new/")
    assert response.status == 403
    provider = server.api("GET", "/api/security/providers/", role="operator")
    if provider:  # the admin test's provider, when it ran first
        assert page.goto(f"{server.url}/providers/{provider[0]['id']}/edit/").status == 403


def test_an_admin_browses_paths_and_writes_a_secret(page, server, bao):
    """The picker and the write form as a user reaches them from the provider's page."""
    vault, _role_id, _secret_id = bao
    vault.client().secrets.kv.v2.create_or_update_secret(path="browse/db/prod", secret={"password": "old-value-1"},
                                                         mount_point="secret")  # fmt: skip
    server.api("POST", "/api/security/providers/", {
        "name": "vault-browse", "kind": "vault", "options": {"url": vault.url}, "credentials": {"token": vault.token},
        "scope": {"workflows": ["*"]},
    })  # fmt: skip
    login(page, server, "admin")
    page.click("nav.mainnav >> text=Secrets")
    page.get_by_role("link", name="vault-browse", exact=True).click()  # not vault-browser, made above
    page.click("#browse-paths")
    page.fill("#paths-form input[name=prefix]", "browse/")
    page.click("#paths-form button")
    page.click("#paths >> text=browse/db/")
    page.wait_for_selector("#paths >> text=vault-browse:browse/db/prod#…")
    shot(page, "provider_paths")
    page.click("#paths >> text=write a new version")
    assert page.input_value("#id_path") == "browse/db/prod"
    page.fill("#id_key", "password")
    page.fill("#id_value", "new-value-2")
    shot(page, "provider_write")
    page.click("#write-form button[type=submit]")
    page.wait_for_selector("text=Wrote vault-browse:browse/db/prod#password")
    assert "wrote: browse/db/prod#password" in page.inner_text("#provider-audit")
    assert "new-value-2" not in page.content()
    stored = vault.client().secrets.kv.v2.read_secret_version(path="browse/db/prod", mount_point="secret",
                                                              raise_on_deleted_version=True)  # fmt: skip
    assert stored["data"]["data"] == {"password": "new-value-2"}
