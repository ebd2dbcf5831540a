"""REST API for costs, mounted at /api/costs/: catalogues (and price look-ups and imports), cost
records, roll-ups, a run's cost with its what-if, budgets and budget overrides."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard.permissions import needs
from workflows.api import datetime_param, errors
from workflows.models import Run

from . import budgets, catalogues, records
from .extension import CostExtension
from .models import Budget, BudgetOverride, CatalogueVersion, CostRecord
from .pricing import catalogue as cat
from .pricing.model import Target
from .pricing.price_file import PriceFileError
from .pricing.whatif import what_if

# ------------------------------------------------------------------ serializers


def extend_schema_field_list(func):
    return extend_schema_field(serializers.ListField(child=serializers.DictField()))(func)


class CatalogueVersionSerializer(serializers.ModelSerializer):
    stale_sources = serializers.SerializerMethodField()

    class Meta:
        model = CatalogueVersion
        fields = ["id", "kind", "label", "created_at", "sha256", "sources", "counts", "active", "stale_sources"]

    @extend_schema_field_list
    def get_stale_sources(self, version: CatalogueVersion) -> list[dict[str, Any]]:
        return version.stale_sources()


class CostRecordSerializer(serializers.ModelSerializer):
    workflow = serializers.CharField(source="workflow.name", read_only=True)
    run_number = serializers.IntegerField(source="run.number", read_only=True)

    class Meta:
        model = CostRecord
        fields = [
            "id", "run", "run_number", "workflow", "taskrun", "node_id", "task_id", "attempt_number",
            "is_retry", "day", "created_at", "model", "provider", "region", "instance_type", "catalogue", "amount",
            "status", "reason", "rates", "inputs", "lines", "tags",
        ]  # fmt: skip


class BudgetSerializer(serializers.ModelSerializer):
    spent = serializers.SerializerMethodField(help_text="What the current period has spent (USD).")
    state = serializers.SerializerMethodField(help_text="ok, warning, spent, or 'per run'.")

    class Meta:
        model = Budget
        fields = ["id", "name", "scope", "workflow", "tag_key", "tag_value", "period", "limit", "warn_at", "active",
                  "created_at", "spent", "state"]  # fmt: skip
        read_only_fields = ["created_at"]

    def _spent(self, budget: Budget) -> float:
        limit = budgets.Limit(budget.period, budget.limit, budget.warn_at, budget.describe(), budget.scope,
                              budget.workflow_id, budget.tag_key, budget.tag_value, budget.pk)  # fmt: skip
        return budgets.spent(limit)

    def get_spent(self, budget: Budget) -> float:
        return self._spent(budget)

    def get_state(self, budget: Budget) -> str:
        return budgets.state(self._spent(budget), budget.limit, budget.warn_at, budget.period)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        scope = data.get("scope", getattr(self.instance, "scope", Budget.WORKFLOW))
        if scope == Budget.WORKFLOW and not data.get("workflow", getattr(self.instance, "workflow", None)):
            raise ValidationError({"workflow": ["a workflow budget needs the workflow's id"]})
        if scope == Budget.TAG and not (data.get("tag_key") and data.get("tag_value")):
            raise ValidationError({"tag_key": ["a tag budget needs tag_key and tag_value"]})
        if "limit" in data and data["limit"] <= 0:
            raise ValidationError({"limit": ["must be above 0"]})
        if "warn_at" in data and not 0 < data["warn_at"] <= 1:
            raise ValidationError({"warn_at": ["a fraction between 0 and 1"]})
        return data


class OverrideSerializer(serializers.ModelSerializer):
    class Meta:
        model = BudgetOverride
        fields = ["id", "workflow", "budget", "reason", "created_by", "created_at", "used_by"]
        read_only_fields = ["created_by", "created_at", "used_by"]


class ImportSerializer(serializers.Serializer):
    content = serializers.CharField(max_length=5_000_000, help_text="The CSV or JSON text, in the import schema.")
    filename = serializers.CharField(max_length=200, required=False, default="", help_text="Ends in .csv or .json.")
    label = serializers.CharField(max_length=200, required=False, default="")


ROLLUP_ROWS = inline_serializer(
    "CostRollupRow",
    many=True,
    fields={
        "key": serializers.CharField(allow_null=True, help_text="The workflow, tag value, day, task or run."),
        "total": serializers.FloatField(),
        "retries": serializers.FloatField(),
        "records": serializers.IntegerField(),
        "unpriced": serializers.IntegerField(),
    },
)


# ------------------------------------------------------------------ catalogues


@extend_schema_view(
    list=extend_schema(summary="List price catalogue versions", description="Newest first, with their sources."),
    retrieve=extend_schema(
        summary="Get a catalogue version", responses={200: CatalogueVersionSerializer, **errors(404)}
    ),
)
class CatalogueViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = CatalogueVersion.objects.defer("rows")
    serializer_class = CatalogueVersionSerializer
    pagination_class = None
    lookup_value_regex = "[0-9]+"

    @extend_schema(
        summary="Look a price up in the catalogue in use",
        description="An instance type (kind=instance, the default) or a storage/transfer/serverless rate. "
        "Unknown or missing prices answer unpriced with the reason, never 0.",
        parameters=[
            OpenApiParameter("provider", str, required=True, enum=list(cat.PROVIDERS)),
            OpenApiParameter("region", str, required=True),
            OpenApiParameter("sku", str, description="The instance type (for kind=instance)."),
            OpenApiParameter("kind", str, enum=list(cat.KINDS)),
        ],
        responses={200: OpenApiTypes.OBJECT, **errors(400)},
    )
    @action(detail=False, methods=["get"])
    def prices(self, request: Request) -> Response:
        provider = request.query_params.get("provider", "").strip().lower()
        region = request.query_params.get("region", "").strip()
        kind = request.query_params.get("kind", "instance").strip()
        sku = request.query_params.get("sku", "").strip()
        if not provider or not region or (kind == "instance" and not sku):
            raise ValidationError({"detail": "give provider, region and (for an instance) sku"})
        if kind not in cat.KINDS or kind in ("vcpu", "memory"):
            raise ValidationError(
                {
                    "kind": [
                        f"one of instance, {', '.join(k for k in cat.KINDS if k not in ('instance', 'vcpu', 'memory'))}"
                    ]
                }
            )
        catalogue, _versions = catalogues.current()
        quote = (
            catalogue.instance(provider, region, sku) if kind == "instance" else catalogue.rate(provider, region, kind)
        )
        if isinstance(quote, cat.Unpriced):
            return Response({"priced": False, "reason": quote.reason})
        data = dict(quote.__dict__)
        cited = data.pop("cited")
        data["sources"] = [c.__dict__ for c in (cited if isinstance(cited, tuple) else (cited,))]
        data["stale"] = any(cat.is_stale(c["as_of"]) for c in data["sources"])
        return Response({"priced": True, **data})

    @extend_schema(
        summary="Import prices (admins)",
        description="CSV or JSON rows with provider, region, sku, kind, unit, price, vcpu, memory_gib, as_of, "
        "source. They become a catalogue version that takes precedence over the built-in prices.",
        request=ImportSerializer,
        responses={201: CatalogueVersionSerializer, **errors(400, 401, 403)},
    )
    @action(detail=False, methods=["post"], url_path="import", permission_classes=[needs("costs.import_prices")])
    def import_file(self, request: Request) -> Response:
        form = ImportSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            version = catalogues.import_prices(data["content"], filename=data["filename"], label=data["label"],
                                               user=request.user)  # fmt: skip
        except PriceFileError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response(CatalogueVersionSerializer(version).data, status=201)


# ------------------------------------------------------------------ records


class RecordCursor(CursorPagination):
    ordering = "-id"
    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 1000


@extend_schema_view(
    list=extend_schema(
        summary="List cost records (one per task attempt)",
        parameters=[
            OpenApiParameter("run", int),
            OpenApiParameter("workflow", int),
            OpenApiParameter("node", str),
            OpenApiParameter("status", str, enum=[s for s, _ in CostRecord.STATUSES]),
            OpenApiParameter("since", OpenApiTypes.DATE),
            OpenApiParameter("until", OpenApiTypes.DATE),
        ],  # fmt: skip
        responses={200: CostRecordSerializer(many=True), **errors(400)},
    ),
    retrieve=extend_schema(summary="Get a cost record", responses={200: CostRecordSerializer, **errors(404)}),
)
class CostRecordViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = CostRecord.objects.all()
    serializer_class = CostRecordSerializer
    pagination_class = RecordCursor
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[CostRecord]:
        rows = CostRecord.objects.select_related("workflow", "run").defer("workflow__source")
        params = self.request.query_params
        for name, field in (("run", "run_id"), ("workflow", "workflow_id")):
            raw = params.get(name, "").strip()
            if raw:
                if not raw.isdigit():
                    raise ValidationError({name: [f"must be an id, not '{raw[:30]}'"]})
                rows = rows.filter(**{field: int(raw)})
        if params.get("node"):
            rows = rows.filter(node_id=params["node"])
        if params.get("status"):
            rows = rows.filter(status=params["status"])
        since, until = day_param(request=self.request, name="since"), day_param(request=self.request, name="until")
        if since:
            rows = rows.filter(day__gte=since)
        if until:
            rows = rows.filter(day__lte=until)
        return rows


def day_param(*, request: Request, name: str):
    value = datetime_param(request, name)
    return value.date() if value is not None else None


# ------------------------------------------------------------------ roll-ups


class RollupView(APIView):
    queryset = CostRecord.objects.none()  # for the role permission: view_costrecord

    @extend_schema(
        summary="Cost roll-ups",
        description="Totals grouped by workflow, tag (give `tag`, the tag's name), day, task, or run (give "
        "`workflow`). Computed by the database (SUM ... GROUP BY); by workflow, tag and day from per-day totals.",
        parameters=[
            OpenApiParameter("by", str, required=True, enum=["workflow", "tag", "day", "task", "run"]),
            OpenApiParameter("tag", str),
            OpenApiParameter("workflow", int),
            OpenApiParameter("since", OpenApiTypes.DATE),
            OpenApiParameter("until", OpenApiTypes.DATE),
        ],  # fmt: skip
        responses={200: ROLLUP_ROWS, **errors(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        by = request.query_params.get("by", "").strip()
        since, until = day_param(request=request, name="since"), day_param(request=request, name="until")
        if by == "workflow":
            rows = [{**r, "key": r["key"]} for r in records.by_workflow(since, until)]
        elif by == "day":
            workflow = request.query_params.get("workflow", "").strip()
            rows = records.by_day(since, until, int(workflow) if workflow.isdigit() else None)
        elif by == "tag":
            tag = request.query_params.get("tag", "").strip()
            if not tag:
                raise ValidationError({"tag": ["name the tag to group by, e.g. tag=team"]})
            try:
                rows = records.by_tag(tag, since, until)
            except ValueError as exc:
                raise ValidationError({"tag": [str(exc)]}) from None
        elif by == "task":
            rows = [
                {"key": f"{r['workflow_name']}.{r['task_id']}", "total": r["total"], "retries": r["retries"],
                 "records": r["attempts"], "unpriced": r["unpriced"]}
                for r in records.top_tasks(since, until, limit=100)
            ]  # fmt: skip
        elif by == "run":
            workflow = request.query_params.get("workflow", "").strip()
            if not workflow.isdigit():
                raise ValidationError({"workflow": ["give the workflow's id to list its runs' totals"]})
            rows = [{"key": f"#{r['number']}", **{k: r[k] for k in ("total", "retries", "records", "unpriced")},
                     "run": r["run_id"], "final": r["final"]} for r in records.by_run(int(workflow), limit=500)]  # fmt: skip
        else:
            raise ValidationError({"by": ["one of workflow, tag, day, task, run"]})
        return Response([{k: (str(v) if k == "key" and v is not None else v) for k, v in r.items()} for r in rows])


# ------------------------------------------------------------------ a run's cost


class RunCostView(APIView):
    queryset = CostRecord.objects.none()

    @extend_schema(
        summary="A run's cost",
        description="Its total (live while it runs), per node, budget alerts, and what the run would have cost "
        "on the nearest equivalent instance (same vCPU and memory) of each cloud.",
        responses={200: OpenApiTypes.OBJECT, **errors(401, 403, 404)},
    )
    def get(self, request: Request, run_id: int) -> Response:
        run = Run.objects.filter(pk=run_id).values("id", "status", "message").first()
        if run is None:
            raise NotFound(f"no run {run_id}")
        summary = CostExtension.snapshot(run_id)
        return Response({"run": run_id, "status": run["status"], "message": run["message"], **summary,
                         "what_if": run_what_if(run_id, summary.get("target") or {})})  # fmt: skip


def run_what_if(run_id: int, target: dict[str, Any]) -> list[dict[str, Any]]:
    if not target.get("provider"):
        return []
    inputs = list(CostRecord.objects.filter(run_id=run_id).values_list("inputs", flat=True))
    if not inputs:
        return []
    catalogue, _versions = catalogues.current()
    chosen = Target(target["provider"], target["region"], target["instance_type"], target.get("model", "allocation"))
    return [alt.as_dict() for alt in what_if(catalogue, chosen, inputs)]


# ------------------------------------------------------------------ budgets


@extend_schema_view(
    list=extend_schema(summary="List budgets with what their period has spent"),
    retrieve=extend_schema(summary="Get a budget", responses={200: BudgetSerializer, **errors(404)}),
    create=extend_schema(summary="Add a budget (admins)", responses={201: BudgetSerializer, **errors(400, 401, 403)}),
    update=extend_schema(summary="Replace a budget", responses={200: BudgetSerializer, **errors(400, 401, 403, 404)}),
    partial_update=extend_schema(summary="Change a budget", responses={200: BudgetSerializer, **errors(400, 403, 404)}),
    destroy=extend_schema(summary="Remove a budget", responses={204: None, **errors(401, 403, 404)}),
)
class BudgetViewSet(viewsets.ModelViewSet):
    queryset = Budget.objects.select_related("workflow")
    serializer_class = BudgetSerializer
    pagination_class = None
    lookup_value_regex = "[0-9]+"

    def perform_create(self, serializer: BudgetSerializer) -> None:
        serializer.save(created_by=self.request.user)


@extend_schema_view(
    list=extend_schema(summary="List budget overrides (newest first)"),
    create=extend_schema(
        summary="Let the next run of a workflow start although its budget is spent (admins)",
        responses={201: OverrideSerializer, **errors(400, 401, 403)},
    ),
)
class OverrideViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    queryset = BudgetOverride.objects.all()
    serializer_class = OverrideSerializer
    pagination_class = None

    def get_permissions(self):
        if self.action == "create":
            return [needs("costs.override_budget")()]
        return super().get_permissions()

    def perform_create(self, serializer: OverrideSerializer) -> None:
        serializer.save(created_by=self.request.user)
