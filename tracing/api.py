"""The tracing REST API: traces and spans under /api/tracing/, and Zipkin's /api/v2/spans.

Reads need the viewer role (view_trace, view_span). /api/v2/spans takes the per-run token
that each task finds in its environment, so a script's spans can join its run's trace.
"""

from __future__ import annotations

import base64
import binascii
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.authentication import BaseAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import AuthenticationFailed, NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from workflows.api import errors
from workflows.models import Run

from . import serializers as s
from .attempt_spans import sync, sync_pending, trace_spans
from .child_spans import store_child_spans
from .extension import token_hash
from .models import Span, Trace
from .otel.compare import compare_spans
from .otel.zipkin import ZipkinError, parse_spans
from .search import STATUSES, TraceSearch, spans_with_attribute
from .store import record_from_row
from .telemetry import global_config, telemetry

# Scripts flush their spans as they exit; a little after the run ends is still on time.
TOKEN_GRACE = timedelta(minutes=10)

TRACE_FILTERS = [
    OpenApiParameter("workflow", str, description="Workflow id or name."),
    OpenApiParameter("status", str, enum=STATUSES, description="The run's status."),
    OpenApiParameter("min_duration", float, description="At least this many seconds."),
    OpenApiParameter("max_duration", float, description="At most this many seconds."),
    OpenApiParameter("attribute", str, description="key=value: a span of the trace has this attribute value."),
    OpenApiParameter("sampled", bool, description="Kept (true) or dropped (false) by the sampler."),
    OpenApiParameter("run", int, description="The trace of this run id."),
]


class TraceCursor(CursorPagination):
    ordering = ("-started_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500


class SpanCursor(CursorPagination):
    ordering = ("start_us", "id")
    page_size = 500
    page_size_query_param = "limit"
    max_page_size = 5000


@extend_schema_view(
    list=extend_schema(
        summary="Search traces, newest first",
        parameters=TRACE_FILTERS,
        responses={200: s.TraceListSerializer(many=True), **errors(400)},
    ),
    retrieve=extend_schema(
        summary="Get a trace with all its spans", responses={200: s.TraceDetailSerializer, **errors(404)}
    ),
)
class TraceViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Trace.objects.all()
    serializer_class = s.TraceDetailSerializer
    pagination_class = TraceCursor
    lookup_field = "trace_id"
    lookup_value_regex = "[0-9a-f]{32}"

    def get_queryset(self) -> QuerySet[Trace]:
        traces = Trace.objects.select_related("run", "run__workflow").defer("run__workflow__source")
        if self.action != "list":
            return traces
        search = TraceSearch.parse(self.request.query_params)
        if search.problems:
            raise ValidationError({"detail": "; ".join(search.problems)})
        return search.apply(traces)

    def get_serializer_class(self):
        return s.TraceListSerializer if self.action == "list" else s.TraceDetailSerializer

    @extend_schema(
        summary="Compare two traces span by span",
        parameters=[
            OpenApiParameter("a", str, required=True, description="Trace id of the first run."),
            OpenApiParameter("b", str, required=True, description="Trace id of the second run."),
        ],
        responses={200: s.CompareSerializer, **errors(400, 404)},
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def compare(self, request: Request) -> Response:
        pair = []
        for key in ("a", "b"):
            value = request.query_params.get(key, "").strip().lower()
            if not value:
                raise ValidationError({"detail": f"{key}: give the trace id to compare"})
            trace = self.get_queryset().filter(trace_id=value).first()
            if trace is None:
                raise NotFound(f"{key}: no trace {value[:40]}")
            pair.append(trace)
        a, b = pair
        rows = compare_spans(trace_spans(a), trace_spans(b))
        return Response({"a": s.TraceListSerializer(a).data, "b": s.TraceListSerializer(b).data, "spans": rows})


@extend_schema_view(
    list=extend_schema(
        summary="List spans in start order",
        parameters=[
            OpenApiParameter("trace", str, description="Trace id."),
            OpenApiParameter("name", str, description="Exact span name."),
            OpenApiParameter("status", str, enum=[c for c, _ in Span.STATUSES]),
            OpenApiParameter("source", str, enum=[c for c, _ in Span.SOURCES]),
            OpenApiParameter("attribute", str, description="key=value"),
        ],
        responses={200: s.SpanSerializer(many=True), **errors(400)},
    ),
    retrieve=extend_schema(summary="Get a span", responses={200: s.SpanSerializer, **errors(404)}),
)
class SpanViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Span.objects.all()
    serializer_class = s.SpanSerializer
    pagination_class = SpanCursor
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[Span]:
        spans = Span.objects.select_related("trace")
        params = self.request.query_params
        trace = Trace.objects.filter(trace_id=params["trace"].strip().lower()).first() if params.get("trace") else None
        # Attempt spans are stored when first read (tracing.attempt_spans): store those of the
        # trace asked for, or of every trace not stored from its final attempts yet.
        if params.get("trace") and self.action == "list":
            if trace is not None:
                sync(trace)
        else:
            sync_pending()
        if self.action != "list":
            return spans
        if params.get("trace"):
            spans = spans.filter(trace=trace)
        if params.get("name"):
            spans = spans.filter(name=params["name"])
        for key, choices in (("status", Span.STATUSES), ("source", Span.SOURCES)):
            value = params.get(key, "").strip()
            if value:
                known = [c for c, _ in choices]
                if value not in known:
                    raise ValidationError({"detail": f"{key}: must be one of {', '.join(known)}"})
                spans = spans.filter(**{key: value})
        if params.get("attribute"):
            search = TraceSearch.parse({"attribute": params["attribute"]})
            if search.problems:
                raise ValidationError({"detail": "; ".join(search.problems)})
            assert search.attribute is not None
            spans = spans.filter(pk__in=spans_with_attribute(*search.attribute).values("pk"))
        return spans


# ------------------------------------------------------------------ Zipkin's POST /api/v2/spans


class RunTokenAuthentication(BaseAuthentication):
    """The per-run token from RUNNER_TRACE_TOKEN: HTTP Basic (any user name, the token as
    password; what a Zipkin exporter sends for credentials in its URL) or `Bearer <token>`."""

    def authenticate(self, request: Request) -> tuple[Any, Trace] | None:
        scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            try:
                _user, _, token = base64.b64decode(value.strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise AuthenticationFailed("malformed Basic credentials") from None
        elif scheme == "bearer":
            token = value.strip()
        else:
            return None
        trace = Trace.objects.select_related("run").filter(token_hash=token_hash(token)).first() if token else None
        if trace is None:
            raise AuthenticationFailed("unknown run token (use RUNNER_TRACE_TOKEN from the task's environment)")
        run = trace.run
        if run.status in Run.FINAL and run.finished_at and run.finished_at < timezone.now() - TOKEN_GRACE:
            raise AuthenticationFailed(f"run #{run.number} ended; its token has expired")
        return AnonymousUser(), trace

    def authenticate_header(self, request: Request) -> str:
        return 'Basic realm="script-runner traces"'


class RunTokenScheme(OpenApiAuthenticationExtension):
    target_class = RunTokenAuthentication
    name = "runToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "basic", "description": "Any user name, RUNNER_TRACE_TOKEN as the password."}


class HasRunToken(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, Trace)


class ZipkinSpansView(APIView):
    authentication_classes = [RunTokenAuthentication]
    permission_classes = [HasRunToken]
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Receive a task's spans (Zipkin v2 JSON)",
        description=(
            "Where a task's OpenTelemetry Zipkin exporter sends its spans (OTEL_EXPORTER_ZIPKIN_ENDPOINT is set "
            "for it). Spans must belong to the run's trace; they appear in the run's waterfall at once."
        ),
        request=s.ZipkinSpanSerializer(many=True),
        responses={202: s.AcceptedSerializer, **errors(400, 401)},
        auth=[{"runToken": []}],
    )
    def post(self, request: Request) -> Response:
        trace: Trace = request.auth
        current = Trace.objects.filter(pk=trace.pk).values_list("sampled", flat=True).first()
        if current is False and global_config().store == "sampled":
            return Response({"accepted": 0}, status=status.HTTP_202_ACCEPTED)  # a dropped trace keeps no spans
        try:
            records = parse_spans(request.data, trace.trace_id)
            stored = store_child_spans(trace, records)
        except ZipkinError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        sampled = Trace.objects.filter(pk=trace.pk).values_list("sampled", flat=True).first()
        if sampled:  # decided and kept: export now (undecided ones go with the run's tail decision)
            telemetry().export(record_from_row(trace.trace_id, row) for row in stored)
        return Response({"accepted": len(stored)}, status=status.HTTP_202_ACCEPTED)
