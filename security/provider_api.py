"""The secret providers API, under /api/security/: providers (list and read by role, create, change
and delete for admins, test the connection), their lineage (`reads/`) and audit log (`changes/`),
and the secrets a run read (`secret-reads/?run=`).

What each role gets back follows the pages: viewers the names only; operators also the kind,
description and scope; admins also the settings and which credentials are stored. A credential
is write-only: sent to set it, never returned; left out of a change, it is kept.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from dashboard.permissions import RolePermission, needs

from .crypto import CredentialsUnreadable
from .models import ProviderChange, SecretProvider, SecretRead
from .provider_views import connection_result
from .providers import PROVIDER_KINDS
from .providers.base import ProviderConfigError
from .providers.resolve import Scope

# ------------------------------------------------------------------ serializers


class ScopeSerializer(serializers.Serializer):
    workflows = serializers.ListField(child=serializers.CharField(), required=False, default=list,
                                      help_text="Workflow name patterns (etl_*). Empty, with no tags: no workflow.")  # fmt: skip
    tags = serializers.ListField(child=serializers.CharField(), required=False, default=list,
                                 help_text="key=value (value patterns allowed) or a bare key.")  # fmt: skip


class ProviderSerializer(serializers.ModelSerializer):
    """Everything but the credentials; fields a role may not see are left out of the answer."""

    kind_label = serializers.CharField(read_only=True)
    scope = serializers.SerializerMethodField()
    url = serializers.CharField(source="get_absolute_url", read_only=True)

    class Meta:
        model = SecretProvider
        fields = ["id", "name", "kind", "kind_label", "description", "scope", "url", "options", "credential_fields",
                  "created_at", "updated_at"]  # fmt: skip

    ROLE_FIELDS = {
        "view": {"id", "name"},
        "use": {"id", "name", "kind", "kind_label", "description", "scope", "url"},
    }

    @extend_schema_field(ScopeSerializer)
    def get_scope(self, provider: SecretProvider) -> dict[str, list[str]]:
        return {"workflows": provider.scope_workflows, "tags": provider.scope_tags}

    def to_representation(self, instance: SecretProvider) -> dict[str, Any]:
        data = super().to_representation(instance)
        user = self.context["request"].user
        if user.has_perm("security.change_secretprovider"):
            return data
        shown = self.ROLE_FIELDS["use" if user.has_perm("security.use_secretprovider") else "view"]
        return {key: value for key, value in data.items() if key in shown}


class ProviderWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    kind = serializers.ChoiceField(choices=list(PROVIDER_KINDS), required=False)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)
    options = serializers.DictField(required=False, default=dict, help_text="The kind's settings (not secret).")
    credentials = serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False), required=False, default=dict,
        write_only=True, help_text="The kind's secret fields; never returned. Left out on a change: kept.",
    )  # fmt: skip
    clear = serializers.ListField(child=serializers.CharField(), required=False, default=list,
                                  help_text="Stored optional credentials to remove (names).")  # fmt: skip
    scope = ScopeSerializer(required=False)


class ConnectionResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField(help_text="The store's answer, or the cause: authentication, permission, ...")
    kind = serializers.CharField(
        help_text="ok, config, authentication, permission, not_found, sealed, tls, unreachable, error"
    )
    errors = serializers.DictField(child=serializers.CharField(), required=False)


class SecretReadSerializer(serializers.ModelSerializer):
    node = serializers.CharField(source="taskrun.node_id", read_only=True)
    provider = serializers.CharField(source="provider_name", read_only=True)

    class Meta:
        model = SecretRead
        fields = ["id", "run", "taskrun", "node", "attempt", "env", "provider", "path", "key", "requested_version",
                  "version", "cached", "read_at"]  # fmt: skip


class ProviderChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProviderChange
        fields = ["id", "provider", "provider_name", "username", "at", "action", "fields"]


class ReadCursor(CursorPagination):
    ordering = ("-read_at", "-id")


class ChangeCursor(CursorPagination):
    ordering = ("-at", "-id")


# ------------------------------------------------------------------ views


def _config_errors(exc: ProviderConfigError) -> ValidationError:
    return ValidationError({"detail": str(exc), "errors": exc.errors})


@extend_schema(tags=["secrets"])
class ProviderViewSet(viewsets.ModelViewSet):
    queryset = SecretProvider.objects.all()
    serializer_class = ProviderSerializer
    permission_classes = [RolePermission]
    pagination_class = None  # a handful of providers, listed by name

    def _save(self, request: Request, provider: SecretProvider) -> SecretProvider:
        body = ProviderWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        creating = provider.pk is None
        name = data.get("name") or provider.name
        kind = data.get("kind") or provider.kind
        if creating and (not name or not kind):
            raise ValidationError({"detail": "name and kind are required"})
        if not creating and name != provider.name and SecretProvider.objects.filter(name=name).exists():
            raise ValidationError({"detail": f"a secret provider named {name!r} exists already"})
        if creating and SecretProvider.objects.filter(name=name).exists():
            raise ValidationError({"detail": f"a secret provider named {name!r} exists already"})
        # A change keeps what it does not mention (settings of the same kind, credentials, scope).
        options = {**(provider.options if kind == provider.kind else {}), **data.get("options", {})}
        try:
            config = provider.candidate_config(kind, {**options, **data.get("credentials", {})}, data.get("clear", []))
            scope_data = data.get("scope")
            scope = (
                Scope.parse(scope_data.get("workflows", []), scope_data.get("tags", []))
                if scope_data is not None
                else provider.scope
            )
            provider.save_config(
                name=name, kind=kind, config=config, scope=scope,
                description=data.get("description", provider.description), user=request.user,
            )  # fmt: skip
        except ProviderConfigError as exc:
            raise _config_errors(exc) from None
        except CredentialsUnreadable as exc:
            raise ValidationError({"detail": f"{str(exc)}; send every credential again"}) from None
        return provider

    @extend_schema(request=ProviderWriteSerializer, responses={201: ProviderSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        provider = self._save(request, SecretProvider())
        return Response(self.get_serializer(provider).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ProviderWriteSerializer, responses=ProviderSerializer)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        provider = self._save(request, self.get_object())
        return Response(self.get_serializer(provider).data)

    @extend_schema(request=ProviderWriteSerializer, responses=ProviderSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, **kwargs)

    def perform_destroy(self, instance: SecretProvider) -> None:
        instance.delete_by(self.request.user)

    @extend_schema(request=None, responses=ConnectionResultSerializer)
    @action(detail=True, methods=["post"], permission_classes=[needs("security.change_secretprovider")])
    def test(self, request: Request, pk: str | None = None) -> Response:
        """Test the stored configuration: the store's answer, or the exact cause it failed."""
        provider = self.get_object()
        try:
            result = connection_result(provider.kind, provider.name, provider.config())
        except CredentialsUnreadable as exc:
            result = {"ok": False, "message": f"{provider.name}: {exc}", "kind": "config"}
        return Response(result)

    @extend_schema(responses=SecretReadSerializer(many=True))
    @action(detail=True, methods=["get"], permission_classes=[needs("security.use_secretprovider")],
            pagination_class=ReadCursor)  # fmt: skip
    def reads(self, request: Request, pk: str | None = None) -> Response:
        """Lineage: which runs and tasks read which secret from this provider, newest first."""
        provider = self.get_object()
        rows = SecretRead.objects.filter(provider=provider).select_related("taskrun")
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(SecretReadSerializer(page, many=True).data)

    @extend_schema(responses=ProviderChangeSerializer(many=True))
    @action(detail=True, methods=["get"], permission_classes=[needs("security.change_secretprovider")],
            pagination_class=ChangeCursor)  # fmt: skip
    def changes(self, request: Request, pk: str | None = None) -> Response:
        """The audit log: who changed which fields, when (never a value)."""
        provider = self.get_object()
        page = self.paginate_queryset(ProviderChange.objects.filter(provider=provider))
        return self.get_paginated_response(ProviderChangeSerializer(page, many=True).data)


@extend_schema(
    tags=["secrets"],
    parameters=[
        OpenApiParameter("run", OpenApiTypes.INT, description="Only this run's reads."),
        OpenApiParameter("provider", OpenApiTypes.STR, description="Only reads from this provider (by name)."),
    ],
)
class SecretReadViewSet(viewsets.ReadOnlyModelViewSet):
    """Lineage across runs: what each attempt read (provider, path, key, version; never a value)."""

    serializer_class = SecretReadSerializer
    pagination_class = ReadCursor
    permission_classes = [needs("security.use_secretprovider")]

    def get_queryset(self):
        rows = SecretRead.objects.select_related("taskrun")
        run = self.request.query_params.get("run")
        if run is not None:
            if not run.isdigit() or len(run) > 18:
                raise ValidationError({"detail": "run: expected a run id"})
            rows = rows.filter(run_id=int(run))
        provider = self.request.query_params.get("provider")
        if provider:
            rows = rows.filter(provider_name=provider)
        return rows
