"""Roles: four groups (viewer, operator, triager, admin) and the permissions each one holds.

Groups are (re)synchronised after every migrate, so a permission added by a later app is
granted to its role without a data migration.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib.auth.models import Group, Permission

VIEWER, OPERATOR, TRIAGER, ADMIN = "viewer", "operator", "triager", "admin"
ROLES = (VIEWER, OPERATOR, TRIAGER, ADMIN)

# app_label.codename; "view_*" of every listed app goes to every role.
VIEW_APPS = ("workflows", "security", "costs", "tracing")
ROLE_PERMISSIONS: dict[str, set[str]] = {
    VIEWER: set(),
    OPERATOR: {
        "workflows.add_workflow",
        "workflows.change_workflow",
        "workflows.trigger_run",
        "workflows.cancel_run",
        "security.add_scan",  # start scans (API) of workflow folders
        "security.use_secretprovider",  # see providers' scope and lineage (viewers see names only)
    },
    TRIAGER: {"security.change_finding", "security.triage_finding"},
    ADMIN: {"*"},
}


def _permissions_for(role: str) -> list[Permission]:
    perms = Permission.objects.select_related("content_type")
    if "*" in ROLE_PERMISSIONS[role]:
        return list(perms.all())
    wanted = set(ROLE_PERMISSIONS[role])
    result = []
    for perm in perms.filter(content_type__app_label__in=VIEW_APPS + tuple(p.split(".")[0] for p in wanted)):
        label = f"{perm.content_type.app_label}.{perm.codename}"
        if label in wanted or (perm.codename.startswith("view_") and perm.content_type.app_label in VIEW_APPS):
            result.append(perm)
    return result


def sync_roles(app_config: Any = None, **_kwargs: Any) -> None:
    """Make the four groups hold exactly their role's permissions.

    As a post_migrate receiver it acts once per migrate, on the signal for the last app:
    every app's permissions exist by then. (Django sends post_migrate only for apps with
    models, so it cannot listen for the dashboard app's own.)
    """
    if app_config is not None and app_config is not _last_app_with_models():
        return
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(_permissions_for(role))


def _last_app_with_models() -> Any:
    return [config for config in apps.get_app_configs() if config.models_module is not None][-1]


def roles_of(user: Any) -> set[str]:
    if not user.is_authenticated:
        return set()
    if user.is_superuser:
        return set(ROLES)
    cached = getattr(user, "_runner_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True)) & set(ROLES)
        user._runner_roles = cached
    return cached


def roles_context(request: Any) -> dict[str, Any]:
    roles = roles_of(request.user) if hasattr(request, "user") else set()
    return {"user_roles": [role for role in ROLES if role in roles]}
