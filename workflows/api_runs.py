"""The REST API's runs and task runs: listing and reading runs, cancelling and re-running them,
and a task's log lines by attempt (mounted with the rest of the API, in workflows/api_urls.py)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from dashboard.permissions import needs

from . import runner
from . import serializers as s
from .api import (
    MAX_INT,
    MAX_LOG_LINES,
    Conflict,
    created_run_response,
    datetime_param,
    errors,
    int_param,
    run_detail_queryset,
)
from .models import LogLine, Run, TaskRun, Workflow


class RunCursor(CursorPagination):
    # Keyset on the indexed created_at (id breaks ties): no COUNT, no OFFSET, at any depth.
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500


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
