"""The security REST API, mounted at /api/security/: scans (start, list, SBOM, SARIF, SARIF import),
findings (list with the page's filters, detail, triage one or many with a comment), run gates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from dashboard.permissions import needs
from workflows.models import Run, Workflow

from . import conf, listing
from .export import sarif_for_scan
from .ingest import record_report, start_scan, target_for
from .models import Finding, FindingEvent, GateCheck, Occurrence, Scan
from .scanners import sarif
from .scanners.pipeline import ALL_TOOLS
from .scanners.results import ScanReport
from .triage import TriageError, triage


class BadRequest(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "bad request"


# ------------------------------------------------------------------ serializers


class ScanSerializer(serializers.ModelSerializer):
    target = serializers.CharField(source="target.root", read_only=True)
    sbom_url = serializers.SerializerMethodField()
    sarif_url = serializers.SerializerMethodField()

    class Meta:
        model = Scan
        fields = ["id", "target", "run", "workflow", "source", "status", "tools", "tool_runs", "manifests", "errors",
                  "counts", "new_count", "fixed_count", "message", "created_at", "finished_at", "seconds", "sbom_url",
                  "sarif_url"]  # fmt: skip

    def get_sbom_url(self, scan: Scan) -> str:
        return f"/api/security/scans/{scan.pk}/sbom/"

    def get_sarif_url(self, scan: Scan) -> str:
        return f"/api/security/scans/{scan.pk}/sarif/"


class StartScanSerializer(serializers.Serializer):
    workflow = serializers.IntegerField(required=False, help_text="Scan this workflow's folder.")
    path = serializers.CharField(required=False, help_text="Or a folder under SECURITY_SCAN_ROOTS / the workspaces.")
    requirements = serializers.ListField(child=serializers.CharField(), required=False)
    tools = serializers.ListField(child=serializers.ChoiceField(choices=ALL_TOOLS), required=False)


class ImportSarifSerializer(serializers.Serializer):
    workflow = serializers.IntegerField(required=False)
    path = serializers.CharField(required=False)
    sarif = serializers.JSONField(help_text="The SARIF 2.1.0 log.")


class FindingSerializer(serializers.ModelSerializer):
    url = serializers.CharField(source="get_absolute_url", read_only=True)
    target = serializers.CharField(source="target.root", read_only=True)

    class Meta:
        model = Finding
        fields = ["id", "url", "target", "workflow", "fingerprint", "tool", "kind", "rule_id", "rule_name", "title",
                  "severity", "severity_source", "confidence", "message", "path", "line", "cwe", "package", "version",
                  "fixed_versions", "aliases", "secret_masked", "state", "state_reason", "accepted_until",
                  "first_seen_at", "last_seen_at", "occurrence_count"]  # fmt: skip


class EventSerializer(serializers.ModelSerializer):
    who = serializers.CharField(read_only=True)

    class Meta:
        model = FindingEvent
        fields = ["at", "who", "scan", "from_state", "to_state", "comment", "accepted_until"]


class OccurrenceSerializer(serializers.ModelSerializer):
    run = serializers.IntegerField(source="scan.run_id", read_only=True, allow_null=True)

    class Meta:
        model = Occurrence
        fields = ["scan", "run", "path", "line", "column", "end_line", "end_column", "message", "snippet",
                  "snippet_start", "seen_at"]  # fmt: skip


class FindingDetailSerializer(FindingSerializer):
    fingerprint_fields = serializers.JSONField(read_only=True)
    help_text = serializers.CharField(read_only=True)
    history = EventSerializer(source="events", many=True, read_only=True)
    occurrences = serializers.SerializerMethodField()

    class Meta(FindingSerializer.Meta):
        fields = [*FindingSerializer.Meta.fields, "fingerprint_fields", "help_text", "help_url", "history",
                  "occurrences"]  # fmt: skip

    @extend_schema_field(OccurrenceSerializer(many=True))
    def get_occurrences(self, finding: Finding) -> list[dict[str, Any]]:
        rows = finding.occurrences.select_related("scan")[:50]
        return OccurrenceSerializer(rows, many=True).data


class TriageSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=Finding.STATES)
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    accepted_until = serializers.CharField(required=False, allow_null=True, default=None,
                                           help_text="YYYY-MM-DD (through that day) or an ISO date-time.")  # fmt: skip


class BulkTriageSerializer(TriageSerializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=1000)


class TriageResultSerializer(serializers.Serializer):
    changed = serializers.IntegerField()


class GateSerializer(serializers.ModelSerializer):
    class Meta:
        model = GateCheck
        fields = ["run", "status", "message", "scan", "gates", "blocking", "started_at", "finished_at"]


# ------------------------------------------------------------------ helpers


def _allowed_root(path: str) -> Path:
    """A folder the API may scan: a workflow's folder, or one under the configured scan roots."""
    root = Path(path).resolve()
    allowed = conf.scan_roots() + [Path(p).resolve() for p in Workflow.objects.exclude(base_dir="")
                                   .values_list("base_dir", flat=True)]  # fmt: skip
    if not any(root == a or root.is_relative_to(a) for a in allowed):
        raise BadRequest(f"{path} is not a folder the API may scan (a workflow's folder or under SECURITY_SCAN_ROOTS)")
    if not root.is_dir():
        raise BadRequest(f"{path}: no such folder")
    return root


def _root_of(data: dict[str, Any]) -> tuple[Path, Workflow | None]:
    if data.get("workflow"):
        workflow = Workflow.objects.filter(pk=data["workflow"]).first()
        if workflow is None:
            raise BadRequest(f"no workflow {data['workflow']}")
        return Path(workflow.workdir()).resolve(), workflow
    if data.get("path"):
        return _allowed_root(data["path"]), None
    raise BadRequest("give the workflow (id) or the path to scan")


class ScanPagination(CursorPagination):
    ordering = "-id"
    page_size = 50


# ------------------------------------------------------------------ views


@extend_schema(tags=["security"])
class ScanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Scans of folders: by the CLI, the API, run gates, or SARIF imports."""

    serializer_class = ScanSerializer
    pagination_class = ScanPagination
    queryset = Scan.objects.select_related("target")

    def get_queryset(self):
        qs = super().get_queryset()
        for name in ("run", "workflow", "target"):
            value = self.request.query_params.get(name, "")
            if value:
                if not value.isdigit() or len(value) > 18:
                    raise BadRequest(f"{name} must be a number")
                qs = qs.filter(**{f"{name}_id": int(value)})
        return qs

    def get_permissions(self):
        if self.action in ("create", "import_sarif"):
            return [needs("security.add_scan")()]
        return super().get_permissions()

    @extend_schema(request=StartScanSerializer, responses={202: ScanSerializer})
    def create(self, request, *args, **kwargs):
        """Queue a scan of a workflow's folder (or an allowed path); poll the scan for its status."""
        body = StartScanSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        root, workflow = _root_of(body.validated_data)
        tools = body.validated_data.get("tools") or list(ALL_TOOLS)
        target = target_for(root, name=workflow.name if workflow else "", workflow=workflow)
        requirements = body.validated_data.get("requirements")
        for name in requirements or []:
            if name.startswith("/") or ".." in Path(name).parts:
                raise BadRequest(f"requirements '{name}' must be a path inside the scanned folder")
        scan = start_scan(target, source="api", tools=tools, user=request.user,
                          requested={"manifests": requirements})  # fmt: skip
        Scan.objects.filter(pk=scan.pk).update(status=Scan.QUEUED)
        from .tasks import run_scan

        run_scan(scan.pk)
        scan.refresh_from_db()
        return Response(ScanSerializer(scan).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=ImportSarifSerializer, responses={201: ScanSerializer})
    @action(detail=False, methods=["post"], url_path="import-sarif")
    def import_sarif(self, request):
        """Turn another tool's SARIF results into findings of a folder (a scan of source "sarif")."""
        body = ImportSarifSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        root, workflow = _root_of(body.validated_data)
        document = body.validated_data["sarif"]
        if isinstance(document, str):
            try:
                document = json.loads(document)
            except ValueError as exc:
                raise BadRequest(f"sarif: not JSON: {exc}") from None
        try:
            findings = sarif.import_log(document, root)
        except sarif.SarifInvalid as exc:
            raise BadRequest(str(exc)) from None
        tools = sorted({f.tool for f in findings}) or ["sarif"]
        target = target_for(root, name=workflow.name if workflow else "", workflow=workflow)
        scan = start_scan(target, source="sarif", tools=tools, user=request.user)
        report = ScanReport(root=str(root), findings=findings, files=sorted({f.path for f in findings}))
        record_report(scan, report)
        return Response(ScanSerializer(scan).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/vnd.cyclonedx+json"): OpenApiTypes.OBJECT,
                              404: OpenApiResponse(description="the scan has no SBOM")})  # fmt: skip
    @action(detail=True, methods=["get"])
    def sbom(self, request, pk=None):
        """The scan's CycloneDX SBOM (JSON)."""
        scan = self.get_object()
        document = getattr(scan, "sbom", None)
        if document is None:
            raise NotFound("this scan has no SBOM (it read no requirements)")
        return HttpResponse(document.document, content_type="application/vnd.cyclonedx+json")

    @extend_schema(responses={(200, "application/sarif+json"): OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def sarif(self, request, pk=None):
        """What the scan saw, as SARIF 2.1.0 (validated against the official schema)."""
        scan = self.get_object()
        return HttpResponse(json.dumps(sarif_for_scan(scan)), content_type="application/sarif+json")


FINDING_FILTERS = [
    OpenApiParameter(name, OpenApiTypes.STR, description=text)
    for name, text in (
        ("tool", "bandit, semgrep, detect-secrets, osv, or an imported tool"),
        ("severity", "critical, high, medium, low or info"),
        ("state", "active (default: open or confirmed), triaged, all, or one state"),
        ("workflow", "workflow id or name"), ("path", "file path prefix"), ("rule", "rule id"),
        ("new_since", "first seen on or after this date (YYYY-MM-DD)"), ("target", "target id"),
        ("scan", "seen by this scan"), ("kind", "code, secret or dependency"),
        ("sort", "severity (default), newest, last_seen or path"), ("after", "the next_cursor of the page before"),
    )
]  # fmt: skip


class FindingPage(serializers.Serializer):
    results = FindingSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


@extend_schema(tags=["security"])
class FindingViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Findings (code, secrets, dependencies) and their triage."""

    serializer_class = FindingSerializer
    queryset = Finding.objects.select_related("target")

    def get_permissions(self):
        if self.action in ("triage", "bulk_triage"):
            return [needs("security.triage_finding")()]
        return super().get_permissions()

    def get_serializer_class(self):
        return FindingDetailSerializer if self.action == "retrieve" else FindingSerializer

    @extend_schema(parameters=FINDING_FILTERS, responses=FindingPage)
    def list(self, request):
        """Keyset pages (`after=next_cursor`) with the findings page's filters and sort orders."""
        try:
            page = listing.page(request.query_params)
        except listing.ListError as exc:
            raise BadRequest(str(exc)) from None
        return Response({"results": FindingSerializer(page.rows, many=True).data, "next_cursor": page.next_cursor})

    def _triage(self, findings: Any, data: dict[str, Any]) -> Response:
        try:
            changed = triage(findings, state=data["state"], user=self.request.user, comment=data.get("comment", ""),
                             accepted_until=data.get("accepted_until"))  # fmt: skip
        except TriageError as exc:
            raise BadRequest(str(exc)) from None
        return Response({"changed": changed})

    @extend_schema(request=TriageSerializer, responses=TriageResultSerializer)
    @action(detail=True, methods=["post"])
    def triage(self, request, pk=None):
        """Set the finding's state with a comment (accepted risk needs one and an expiry)."""
        body = TriageSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._triage([self.get_object()], body.validated_data)

    @extend_schema(
        request=BulkTriageSerializer, responses=TriageResultSerializer, operation_id="security_findings_bulk_triage"
    )
    @action(detail=False, methods=["post"], url_path="triage")
    def bulk_triage(self, request):
        """Triage many findings at once, with one comment."""
        body = BulkTriageSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ids = body.validated_data["ids"]
        found = list(Finding.objects.filter(pk__in=ids))
        missing = sorted(set(ids) - {f.pk for f in found})
        if missing:
            raise ValidationError({"ids": [f"no finding {', '.join(map(str, missing[:10]))}"]})
        return self._triage(found, body.validated_data)


@extend_schema(tags=["security"])
class GateViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A run's security gate (by run id): its status and the findings that blocked it."""

    serializer_class = GateSerializer
    queryset = GateCheck.objects.all()
    lookup_field = "run"

    def get_object(self):
        run_id = self.kwargs.get("run", "")
        if not str(run_id).isdigit() or len(str(run_id)) > 18:
            raise NotFound("no such run")
        get_object_or_404(Run, pk=int(run_id))
        check = GateCheck.objects.filter(Q(run_id=int(run_id))).first()
        if check is None:
            raise NotFound("this run has no security gate")
        self.check_object_permissions(self.request, check)
        return check
