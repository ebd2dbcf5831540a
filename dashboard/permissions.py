"""API permissions: signed in, and holding the model permission the method needs."""

from __future__ import annotations

from rest_framework.permissions import DjangoModelPermissions


class RolePermission(DjangoModelPermissions):
    """Reads need view_*, writes need add/change/delete_* (from the user's role group)."""

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": [],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return False
        if getattr(view, "_ignore_model_permissions", False) or not hasattr(view, "get_queryset"):
            return True
        return super().has_permission(request, view)


def needs(permission: str):
    """A permission class requiring one named permission, e.g. needs("workflows.trigger_run")."""

    class _Needs(RolePermission):
        def has_permission(self, request, view):
            return bool(request.user and request.user.is_authenticated and request.user.has_perm(permission))

    _Needs.__name__ = f"Needs_{permission.replace('.', '_')}"
    return _Needs
