"""The REST API, mounted at /api/: tokens, workflows, runs, task runs and their logs.

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
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard.permissions import needs

from . import runner
from . import serializers as s
from .engine.loader import detect_format
from .engine.spec import WorkflowInvalid, WorkflowSpec, parse_workflow
from .models import LogLine, Run, TaskRun, Workflow

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
                workflow = runner.save_workflow(
                    data["source"], fmt=fmt, spec=spec, user=request.user, base_dir=data.get("base_dir")
                )
        except IntegrityError:
            raise Conflict(f"a workflow named '{spec.name}' was just added by someone else") from None
        except runner.SaveRefused as exc:
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
                runner.update_workflow(
                    locked, source, fmt=fmt, spec=spec, user=request.user, base_dir=data.get("base_dir")
                )
        except IntegrityError:
            raise Conflict("the workflow was changed by someone else at the same time; try again") from None
        except runner.SaveRefused as exc:
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


# ------------------------------------------------------------------ runs


class RunCursor(CursorPagination):
    # Keyset on the indexed created_at (id breaks ties): no COUNT, no OFFSET, at any depth.
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500


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


RUN_FILTERS = [
    OpenApiParameter("workflow", str, description="Workflow id or name."),
    OpenApiParameter("status", str, enum=[code for code, _ in Run.STATUSES], description="Only runs in this status."),
    OpenApiParameter("created_after", OpenApiTypes.DATETIME, description="ISO date or datetime (inclusive)."),
    OpenApiParameter("created_before", OpenApiTypes.DATETIME, description="ISO date or datetime (exclusive)."),
]


@extend_schema_view(
    list=extend_schema(
        summary="List runs, newest first",
        parameters=RUN_FILTERS,
        responses={200: s.RunListSerializer(many=True), **errors(400)},
    ),
    retrieve=extend_schema(summary="Get a run with its tasks", responses={200: s.RunDetailSerializer, **errors(404)}),
)
class RunViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Run.objects.all()
    serializer_class = s.RunDetailSerializer
    pagination_class = RunCursor
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[Run]:
        if self.action != "list":
            return run_detail_queryset()
        runs = Run.objects.select_related("workflow", "triggered_by").defer("workflow__source", "params", "tags")
        return self.filter_runs(runs, self.request)

    def get_serializer_class(self):
        return s.RunListSerializer if self.action == "list" else s.RunDetailSerializer

    @staticmethod
    def filter_runs(runs: QuerySet[Run], request: Request) -> QuerySet[Run]:
        workflow = request.query_params.get("workflow", "").strip()
        if workflow:
            if workflow.isascii() and workflow.isdigit():
                runs = runs.filter(workflow_id=min(int(workflow), MAX_INT))
            else:
                # Resolve the name first, so the query below stays on the (workflow, created_at) index.
                pk = Workflow.objects.filter(name=workflow).values_list("pk", flat=True).first()
                runs = runs.filter(workflow_id=pk) if pk is not None else runs.none()
        wanted = request.query_params.get("status", "").strip()
        if wanted:
            # One status only: status IN (...) cannot be read in created_at order from any index.
            known = [code for code, _ in Run.STATUSES]
            if wanted not in known:
                raise ValidationError({"status": [f"unknown status '{wanted[:40]}' (one of: {', '.join(known)})"]})
            runs = runs.filter(status=wanted)
        after, before = datetime_param(request, "created_after"), datetime_param(request, "created_before")
        if after is not None:
            runs = runs.filter(created_at__gte=after)
        if before is not None:
            runs = runs.filter(created_at__lt=before)
        return runs

    @extend_schema(
        summary="Cancel a run",
        description="200 when it was still queued (now cancelled), 202 when a worker is stopping it.",
        request=None,
        responses={200: s.RunDetailSerializer, 202: s.RunDetailSerializer, **errors(401, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"], permission_classes=[needs("workflows.cancel_run")])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        run = self.get_object()
        if run.is_final or not runner.request_cancel(run, request.user):
            status_now = Run.objects.filter(pk=run.pk).values_list("status", flat=True).first()
            raise Conflict(f"run #{run.number} of '{run.workflow.name}' already ended ({status_now})")
        run = run_detail_queryset().get(pk=run.pk)
        code = status.HTTP_200_OK if run.is_final else status.HTTP_202_ACCEPTED
        return Response(s.RunDetailSerializer(run).data, status=code)

    @extend_schema(
        summary="Re-run a run",
        description="All tasks again, or (failed_only) what did not succeed and what depends on it.",
        request=s.RerunSerializer,
        responses={201: s.RunDetailSerializer, **errors(400, 401, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"], permission_classes=[needs("workflows.trigger_run")])
    def rerun(self, request: Request, pk: str | None = None) -> Response:
        run = self.get_object()
        form = s.RerunSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        failed_only = form.validated_data["failed_only"]
        if not run.is_final:
            raise Conflict(f"run #{run.number} is still {run.status}; wait for it to end or cancel it")
        if failed_only and not run.tasks.filter(status__in=TaskRun.UNSUCCESSFUL).exists():
            raise Conflict(f"nothing failed in run #{run.number}; re-run it with failed_only false")
        new = runner.rerun(run, failed_only=failed_only, user=request.user)
        return created_run_response(new)


# ------------------------------------------------------------------ task runs and logs

ATTEMPT = OpenApiParameter("attempt", int, description="Attempt number (1-based); the latest when left out.")


def log_page(task: TaskRun, attempt: int, rows: list[tuple], cursor: int | None) -> Response:
    lines = [{"lineno": n, "stream": s.STREAM_NAMES.get(st, st), "ts": ts, "text": t} for n, st, ts, t in rows]
    return Response({"attempt": attempt, "lines": lines, "next_after": cursor})


@extend_schema_view(
    retrieve=extend_schema(
        summary="Get a task run with its attempts", responses={200: s.TaskRunDetailSerializer, **errors(404)}
    )
)
class TaskRunViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = TaskRun.objects.all()
    serializer_class = s.TaskRunDetailSerializer
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[TaskRun]:
        if self.action == "retrieve":
            return (
                TaskRun.objects.select_related("run__workflow")
                .defer("run__workflow__source")
                .prefetch_related("attempt_set")
            )
        return TaskRun.objects.only("id", "status", "attempts")

    def requested_attempt(self, task: TaskRun) -> int:
        latest = max(task.attempts, 1)
        attempt = int_param(self.request, "attempt", latest, minimum=1)
        if attempt > latest:
            raise NotFound(f"task run {task.pk} has no attempt {attempt} (the latest is {latest})")
        return attempt

    @staticmethod
    def still_writing(task: TaskRun, attempt: int) -> bool:
        """Can more lines of this attempt still arrive? Not once the task ended or moved on."""
        return not task.is_final and attempt >= task.attempts

    @extend_schema(
        summary="Read a task's log, oldest first",
        description="Keyset paging: pass next_after as `after`. While the attempt runs, next_after keeps "
        "pointing at the last line, so polling with it follows the log; it is null once nothing more can come.",
        parameters=[
            ATTEMPT,
            OpenApiParameter("after", int, description="Only lines after this line number (default 0)."),
            OpenApiParameter("limit", int, description=f"Lines per page (default 500, at most {MAX_LOG_LINES})."),
        ],
        responses={200: s.LogPageSerializer, **errors(400, 404)},
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def logs(self, request: Request, pk: str | None = None) -> Response:
        task = self.get_object()
        attempt = self.requested_attempt(task)
        after = int_param(request, "after", 0)
        limit = int_param(request, "limit", 500, minimum=1, maximum=MAX_LOG_LINES)
        lines = LogLine.objects.filter(taskrun_id=task.pk, attempt=attempt, lineno__gt=after).order_by("lineno")
        rows = list(lines.values_list("lineno", "stream", "ts", "text")[: limit + 1])
        full, rows = len(rows) > limit, rows[:limit]
        last = rows[-1][0] if rows else after
        return log_page(task, attempt, rows, last if full or self.still_writing(task, attempt) else None)

    @extend_schema(
        summary="Read the last lines of a task's log",
        parameters=[
            ATTEMPT,
            OpenApiParameter("lines", int, description=f"How many (default 100, at most {MAX_LOG_LINES})."),
        ],
        responses={200: s.LogPageSerializer, **errors(400, 404)},
    )
    @action(detail=True, methods=["get"], url_path="logs/tail", url_name="logs-tail", pagination_class=None)
    def tail(self, request: Request, pk: str | None = None) -> Response:
        task = self.get_object()
        attempt = self.requested_attempt(task)
        count = int_param(request, "lines", 100, minimum=1, maximum=MAX_LOG_LINES)
        lines = LogLine.objects.filter(taskrun_id=task.pk, attempt=attempt).order_by("-lineno")
        rows = list(lines.values_list("lineno", "stream", "ts", "text")[:count])[::-1]
        last = rows[-1][0] if rows else 0
        return log_page(task, attempt, rows, last if self.still_writing(task, attempt) else None)
