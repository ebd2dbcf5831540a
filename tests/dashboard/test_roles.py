"""Roles: migrate makes the four groups with their permissions, and nobody gets in without one."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.regex_helper import normalize

from dashboard.accounts import ROLE_PERMISSIONS, ROLES, sync_roles

OPERATOR_EXTRAS = {"add_workflow", "change_workflow", "trigger_run", "cancel_run"}
# The only routes open without signing in; the token endpoint is how API clients sign in.
PUBLIC = {"/login/", "/healthz", "/api/token/", "/admin/login/"}


def codenames(role: str) -> set[str]:
    return set(Group.objects.get(name=role).permissions.values_list("codename", flat=True))


def workflow_views() -> set[str]:
    """Every view_* permission of the apps whose records every role may read."""
    from dashboard.accounts import VIEW_APPS

    return set(
        Permission.objects.filter(content_type__app_label__in=VIEW_APPS, codename__startswith="view_").values_list(
            "codename", flat=True
        )
    )


def test_migrate_creates_the_four_roles(db):
    Group.objects.all().delete()
    call_command("migrate", verbosity=0)
    assert set(Group.objects.values_list("name", flat=True)) == set(ROLES)


def test_a_viewer_may_only_look(db):
    assert codenames("viewer") == workflow_views()
    assert {"view_run", "view_workflow", "view_logline"} <= codenames("viewer")


def test_an_operator_runs_and_edits_workflows_but_cannot_delete_them(db):
    extras = {perm.split(".")[1] for perm in ROLE_PERMISSIONS["operator"]}
    assert OPERATOR_EXTRAS <= extras
    assert codenames("operator") == workflow_views() | extras
    assert "delete_workflow" not in codenames("operator")


def test_a_triager_may_look_and_triage(db):
    assert workflow_views() <= codenames("triager")
    changes = {c for c in codenames("triager") if not c.startswith("view_")}
    assert changes == {c.split(".")[1] for c in ROLE_PERMISSIONS["triager"]} & changes
    assert not {c for c in changes if "workflow" in c or c.endswith("_run")}


def test_an_admin_holds_every_permission(db):
    assert Group.objects.get(name="admin").permissions.count() == Permission.objects.count()


def test_sync_roles_is_idempotent_and_undoes_drift(db):
    before = {role: codenames(role) for role in ROLES}
    Group.objects.get(name="viewer").permissions.add(Permission.objects.get(codename="delete_workflow"))
    sync_roles()
    sync_roles()
    assert Group.objects.count() == len(ROLES)
    assert {role: codenames(role) for role in ROLES} == before


@pytest.fixture
def no_role(client, db):
    client.force_login(User.objects.create_user("nobody", password="pw"))
    return client


@pytest.mark.parametrize("url", ["/", "/overview/stats/", "/runs/", "/workflows/", "/workflows/new/"])
def test_a_user_without_a_role_is_refused_the_pages(no_role, url):
    assert no_role.get(url).status_code == 403


@pytest.mark.parametrize("url", ["/api/workflows/", "/api/runs/"])
def test_a_user_without_a_role_is_refused_the_api(no_role, url):
    response = no_role.get(url)
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/json")


def routes_without_arguments(patterns=None, prefix: str = "/") -> list[str]:
    """Every URL the project serves that needs no argument, includes walked."""
    found = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        pattern = entry.pattern
        regex = pattern.regex
        if regex.groups:
            continue
        route = normalize(regex.pattern)[0][0]
        if isinstance(entry, URLResolver):
            found += routes_without_arguments(entry.url_patterns, prefix + route)
        elif isinstance(entry, URLPattern):
            found.append(prefix + route)
    return found


def test_the_walk_finds_the_pages():
    routes = routes_without_arguments()
    assert {"/", "/runs/", "/workflows/", "/workflows/new/", "/admin/", "/api/runs/", "/api/docs/"} <= set(routes)


@pytest.mark.parametrize("url", sorted(set(routes_without_arguments()) - PUBLIC))
def test_login_is_required_everywhere(client, db, url):
    response = client.get(url)
    if url == "/api/":
        assert response.status_code == 404  # the API's catch-all: nothing there for anyone
    elif url.startswith("/api/") and url != "/api/docs/":
        assert response.status_code == 401  # API clients get JSON, not a login page
    else:
        # The admin's own pages send people to its login form, its model pages to the site's.
        logins = ("/login/?next=", "/admin/login/?next=") if url.startswith("/admin/") else ("/login/?next=",)
        assert response.status_code == 302
        assert response.url.startswith(logins)


@pytest.mark.parametrize("url", sorted(PUBLIC))
def test_only_the_public_routes_open_without_login(client, db, url):
    response = client.get(url)
    assert response.status_code in (200, 405)  # 405: the token endpoint takes POST only
