"""The REST API, mounted at /api/: tokens and workflows, and what the rest of the API shares (its
errors, query parameters, a created run's answer); runs, task runs and their logs are in api_runs.

Views stay thin: parsing is the engine's, creating/cancelling/re-running runs is the runner's.
Permissions come from the user's role (dashboard.permissions); every error is 4xx JSON with a
"detail" message (dashboard.api.exception_handler).
"""

from __future__ import annotations

from datetime import datetime
from datetime import time as dtime
from typing import Any

from django.contrib.auth import authenticate
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import JsonResponse
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard.permissions import needs

from . import runner, saving
from . import serializers as s
from .engine.loader import detect_format
from .engine.spec import WorkflowInvalid, WorkflowSpec, parse_workflow
from .models import Run, Workflow

MAX_LOG_LINES = 5000
MAX_INT = 2**31 - 1  # query values above the columns' range are clamped, never sent to the database


# ------------------------------------------------------------------ errors and parameters


class BadRequest(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "bad request"
    default_code = "bad_request"


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "the request conflicts with the current state"
    default_code = "conflict"


class SpecInvalid(APIException):
    """400 with every error of the workflow file, each with its line and field."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_workflow"

    def __init__(self, exc: WorkflowInvalid):
        super().__init__()
        # Set after __init__ so line numbers stay integers (DRF would turn them into strings).
        self.detail = {"detail": s.invalid_summary(exc), "errors": s.spec_errors(exc.errors)}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """Schema entries for error responses: each is {"detail": "..."}."""
    text = {400: "Bad request", 401: "Not authenticated", 403: "Not allowed for your role", 404: "Not found",
            409: "Conflicts with the current state"}  # fmt: skip
    return {code: OpenApiResponse(s.ErrorSerializer, description=text[code]) for code in codes}


def parse_source(source: str, fmt: str | None) -> tuple[WorkflowSpec, str]:
    fmt = fmt or detect_format(source)
    try:
        return parse_workflow(source, f"workflow.{fmt}"), fmt
    except WorkflowInvalid as exc:
        raise SpecInvalid(exc) from None


def int_param(request: Request, name: str, default: int, *, minimum: int = 0, maximum: int = MAX_INT) -> int:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: [f"must be an integer, not '{raw[:40]}'"]}) from None
    if value < minimum:
        raise ValidationError({name: [f"must be at least {minimum}"]})
    return min(value, maximum)


def datetime_param(request: Request, name: str) -> datetime | None:
    """An ISO date (midnight) or datetime; naive values are in the server's time zone."""
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    candidates = [raw]
    if " " in raw:  # an unencoded "+02:00" arrives as " 02:00"
        head, _, tail = raw.rpartition(" ")
        candidates.append(f"{head}+{tail}")
    for text in candidates:
        try:
            value = parse_datetime(text)
            if value is None and (day := parse_date(text)) is not None:
                value = datetime.combine(day, dtime.min)
        except ValueError:  # well formed but impossible, e.g. month 13
            value = None
        if value is not None:
            return timezone.make_aware(value) if timezone.is_naive(value) else value
    raise ValidationError({name: ["must be an ISO date (2025-01-31) or datetime (2025-01-31T12:00:00Z)"]})


@csrf_exempt
def not_found(request, *args: Any, **kwargs: Any) -> JsonResponse:
    """Unknown /api/ URLs answer in JSON too (and hint at a missing trailing slash)."""
    detail = f"no API endpoint at {request.path}"
    if not request.path.endswith("/"):
        try:
            if resolve(request.path + "/").func is not not_found:
                detail += f" (did you mean {request.path}/ ?)"
        except Resolver404:
            pass
    return JsonResponse({"detail": detail}, status=404)


# ------------------------------------------------------------------ a created run's answer


def run_detail_queryset() -> QuerySet[Run]:
    return (
        Run.objects.select_related("workflow", "triggered_by", "workflow_version")
        .defer("workflow__source", "workflow_version__source")
        .prefetch_related("tasks")
    )


def created_run_response(run: Run) -> Response:
    response = Response(s.RunDetailSerializer(run_detail_queryset().get(pk=run.pk)).data, status=201)
    response["Location"] = reverse("api:run-detail", args=[run.pk])
    return response


# ------------------------------------------------------------------ token


class TokenView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Get an API token",
        description="Exchange a username and password for the user's token (the same token every time).",
        request=s.TokenRequestSerializer,
        responses={200: s.TokenSerializer, **errors(400)},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        form = s.TokenRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        user = authenticate(request, username=form.validated_data["username"], password=form.validated_data["password"])
        if user is None:
            raise BadRequest("unable to log in with those credentials")
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


# ------------------------------------------------------------------ workflows


class WorkflowCursor(CursorPagination):
    ordering = "name"
    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 500


def attach_last_runs(workflows: list[Workflow]) -> None:
    """One query for the last run of every workflow on the page (the ids come annotated)."""
    runs = Run.objects.in_bulk([w.last_run_id for w in workflows if w.last_run_id])
    for workflow in workflows:
        workflow.last_run = runs.get(workflow.last_run_id)


INVALID_WORKFLOW = OpenApiResponse(s.InvalidWorkflowSerializer, description="Invalid body or workflow file")
WORKFLOW_WRITE: dict[str, Any] = {
    "request": s.WorkflowWriteSerializer,
    "responses": {200: s.WorkflowDetailSerializer, 400: INVALID_WORKFLOW, **errors(401, 403, 404, 409)},
}


@extend_schema_view(
    list=extend_schema(summary="List workflows", description="Ordered by name, with each one's last run."),
    retrieve=extend_schema(summary="Get a workflow", description="With its source, declared params and task ids."),
    create=extend_schema(
        summary="Add a workflow",
        request=s.WorkflowWriteSerializer,
        responses={201: s.WorkflowDetailSerializer, 400: INVALID_WORKFLOW, **errors(401, 403, 409)},
    ),
    update=extend_schema(summary="Replace a workflow's source (adds a version)", **WORKFLOW_WRITE),
    partial_update=extend_schema(summary="Change a workflow's source, format or base_dir", **WORKFLOW_WRITE),
    destroy=extend_schema(
        summary="Delete a workflow and its runs (admins only)", responses={204: None, **errors(401, 403, 404, 409)}
    ),
)
class WorkflowViewSet(viewsets.ModelViewSet):
    queryset = Workflow.objects.all()
    serializer_class = s.WorkflowDetailSerializer
    pagination_class = WorkflowCursor
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[Workflow]:
        last_run = Run.objects.filter(workflow=OuterRef("pk")).order_by("-created_at", "-id").values("pk")[:1]
        queryset = Workflow.objects.select_related("created_by").annotate(last_run_id=Subquery(last_run))
        return queryset.defer("source") if self.action == "list" else queryset

    def get_serializer_class(self):
        return s.WorkflowListSerializer if self.action == "list" else s.WorkflowDetailSerializer

    def detail_response(self, workflow: Workflow, code: int = status.HTTP_200_OK) -> Response:
        workflow = self.get_queryset().get(pk=workflow.pk)
        attach_last_runs([workflow])
        return Response(s.WorkflowDetailSerializer(workflow).data, status=code)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        attach_last_runs(page)
        return self.get_paginated_response(s.WorkflowListSerializer(page, many=True).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        workflow = self.get_object()
        attach_last_runs([workflow])
        return Response(s.WorkflowDetailSerializer(workflow).data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        form = s.WorkflowWriteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        spec, fmt = parse_source(data["source"], data.get("format"))
        try:
            with transaction.atomic():
                existing = Workflow.objects.filter(name=spec.name).values_list("pk", flat=True).first()
                if existing is not None:
                    raise Conflict(
                        f"a workflow named '{spec.name}' already exists (id {existing}); "
                        f"PUT /api/workflows/{existing}/ to change it"
                    )
                workflow = saving.save_workflow(
                    data["source"], fmt=fmt, spec=spec, user=request.user, base_dir=data.get("base_dir")
                )
        except IntegrityError:
            raise Conflict(f"a workflow named '{spec.name}' was just added by someone else") from None
        except saving.SaveRefused as exc:
            raise PermissionDenied(str(exc)) from None
        response = self.detail_response(workflow, status.HTTP_201_CREATED)
        response["Location"] = reverse("api:workflow-detail", args=[workflow.pk])
        return response

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        workflow = self.get_object()
        form = s.WorkflowWriteSerializer(data=request.data, partial=kwargs.get("partial", False))
        form.is_valid(raise_exception=True)
        data = form.validated_data
        source = data.get("source", workflow.source)
        fmt = data.get("format") or (None if "source" in data else workflow.format)
        spec, fmt = parse_source(source, fmt)
        try:
            with transaction.atomic():
                locked = Workflow.objects.select_for_update().filter(pk=workflow.pk).first()
                if locked is None:
                    raise NotFound("the workflow was deleted meanwhile")
                others = Workflow.objects.filter(name=spec.name).exclude(pk=locked.pk)
                clash = others.values_list("pk", flat=True).first()
                if clash is not None:
                    raise Conflict(f"another workflow (id {clash}) is already named '{spec.name}'")
                saving.update_workflow(
                    locked, source, fmt=fmt, spec=spec, user=request.user, base_dir=data.get("base_dir")
                )
        except IntegrityError:
            raise Conflict("the workflow was changed by someone else at the same time; try again") from None
        except saving.SaveRefused as exc:
            raise PermissionDenied(str(exc)) from None
        return self.detail_response(locked)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        workflow = self.get_object()
        active = workflow.runs.exclude(status__in=Run.FINAL).count()
        if active:
            raise Conflict(f"workflow '{workflow.name}' has {active} run(s) not yet ended; cancel them first")
        with transaction.atomic():
            # Runs first: they PROTECT the versions that deleting the workflow would cascade to.
            workflow.runs.all().delete()
            workflow.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Check a workflow file without saving it",
        description="200 either way: {valid: true} or {valid: false, errors: [{line, field, message}]}.",
        request=s.ValidateSerializer,
        responses={200: s.ValidationResultSerializer, **errors(400, 401, 403)},
    )
    @action(detail=False, methods=["post"], permission_classes=[needs("workflows.view_workflow")])
    def validate(self, request: Request) -> Response:
        form = s.ValidateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            parse_source(form.validated_data["source"], form.validated_data.get("format"))
        except SpecInvalid as exc:
            return Response({"valid": False, "errors": exc.detail["errors"]})
        return Response({"valid": True, "errors": []})

    @extend_schema(
        summary="List a workflow's versions", responses={200: s.WorkflowVersionSerializer(many=True), **errors(404)}
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def versions(self, request: Request, pk: str | None = None) -> Response:
        workflow = self.get_object()
        versions = workflow.versions.select_related("created_by").order_by("-version")
        return Response(s.WorkflowVersionSerializer(versions, many=True).data)

    @extend_schema(
        summary="Start a run",
        request=s.TriggerSerializer,
        responses={201: s.RunDetailSerializer, **errors(400, 401, 403, 404, 409)},
    )
    @action(
        detail=True, methods=["post"], url_path="runs", url_name="runs",
        permission_classes=[needs("workflows.trigger_run")],
    )  # fmt: skip
    def trigger(self, request: Request, pk: str | None = None) -> Response:
        workflow = self.get_object()
        form = s.TriggerSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            run = runner.create_run(workflow, params=form.validated_data["params"], trigger="api", user=request.user)
        except runner.RunRefused as exc:
            raise Conflict(str(exc)) from None
        except runner.ParamError as exc:
            raise ValidationError({"params": [str(exc)]}) from None
        return created_run_response(run)
