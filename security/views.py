"""Triage pages: the findings list (filters, sort, bulk actions), a finding, scans, SBOMs, SARIF."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from workflows.models import Workflow

from . import listing
from .export import sarif_for_scan
from .models import Finding, Scan
from .scanners import severity as sev
from .triage import TriageError, triage

TRIAGE_STATES = [s for s in Finding.STATES if s[0] != Finding.FIXED]


def _query(params: dict[str, str], **extra: Any) -> str:
    return "?" + urlencode({**params, **{k: v for k, v in extra.items() if v}})


@permission_required("security.view_finding", raise_exception=True)
def finding_list(request: HttpRequest) -> HttpResponse:
    problems: list[str] = []
    try:
        result = listing.page(request.GET)
        count, more = listing.bounded_count(listing.filtered(request.GET)[0])
    except listing.ListError as exc:
        problems.append(str(exc))
        result, count, more = listing.Page([], None, "severity"), 0, False
    filters = {k: v for k, v in result.filters.items()}
    query = {**filters, "sort": result.sort}
    tools = sorted(Finding.objects.order_by().values_list("tool", flat=True).distinct())
    context = {
        "findings": result.rows,
        "filters": filters,
        "sort": result.sort,
        "sorts": list(listing.SORTS),
        "problems": problems,
        "count": count,
        "more": more,
        "next_query": _query(query, after=result.next_cursor) if result.next_cursor else None,
        "first_query": _query(query) if request.GET.get("after") else None,
        "tools": tools,
        "severities": sev.SEVERITIES,
        "states": [("active", "open or confirmed"), ("triaged", "triaged away"), ("all", "all"), *Finding.STATES],
        "triage_states": TRIAGE_STATES,
        "workflows": Workflow.objects.only("id", "name"),
        "can_triage": request.user.has_perm("security.triage_finding"),
        "here": request.get_full_path(),
    }
    return render(request, "security/finding_list.html", context)


@permission_required("security.view_finding", raise_exception=True)
def finding_detail(request: HttpRequest, pk: int) -> HttpResponse:
    finding = get_object_or_404(Finding.objects.select_related("target", "workflow", "triaged_by"), pk=pk)
    occurrences = list(finding.occurrences.select_related("scan", "scan__run", "scan__run__workflow")[:25])
    latest = occurrences[0] if occurrences else None
    snippet = []
    if latest and latest.snippet:
        for offset, text in enumerate(latest.snippet.split("\n")):
            number = latest.snippet_start + offset
            snippet.append((number, text, number == latest.line))
    context = {
        "finding": finding,
        "occurrences": occurrences,
        "more_occurrences": finding.occurrence_count > len(occurrences),
        "latest": latest,
        "snippet": snippet,
        "events": finding.events.select_related("user", "scan"),
        "fields": sorted(finding.fingerprint_fields.items()),
        "can_triage": request.user.has_perm("security.triage_finding"),
        "triage_states": TRIAGE_STATES,
    }
    return render(request, "security/finding_detail.html", context)


@require_POST
@permission_required("security.triage_finding", raise_exception=True)
def finding_triage(request: HttpRequest) -> HttpResponse:
    """One finding (its page) or many (the list's bulk bar): a new state, a comment, maybe an expiry."""
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = "/findings/"
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit() and len(i) < 19]
    if not ids:
        messages.error(request, "Select at least one finding.")
        return redirect(back)
    try:
        changed = triage(
            Finding.objects.filter(pk__in=ids), state=request.POST.get("state", ""), user=request.user,
            comment=request.POST.get("comment", ""), accepted_until=request.POST.get("accepted_until") or None,
        )  # fmt: skip
    except TriageError as exc:
        messages.error(request, f"Nothing changed: {exc}.")
    else:
        state = dict(Finding.STATES).get(request.POST.get("state", ""), "")
        messages.success(request, f"{changed} finding{'s' if changed != 1 else ''} set to {state}.")
    return redirect(back)


@permission_required("security.view_scan", raise_exception=True)
def scan_list(request: HttpRequest) -> HttpResponse:
    scans = Scan.objects.select_related("target", "run", "run__workflow").order_by("-id")
    before = request.GET.get("before", "")
    if before.isdigit() and len(before) < 19:
        scans = scans.filter(id__lt=int(before))
    rows = list(scans[: listing.PAGE_SIZE + 1])
    more = len(rows) > listing.PAGE_SIZE
    rows = rows[: listing.PAGE_SIZE]
    context = {"scans": rows, "next_query": f"?before={rows[-1].pk}" if more else None}
    return render(request, "security/scan_list.html", context)


@permission_required("security.view_scan", raise_exception=True)
def scan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scan = get_object_or_404(Scan.objects.select_related("target", "run", "run__workflow", "created_by"), pk=pk)
    try:
        result = listing.page({**request.GET.dict(), "scan": str(scan.pk), "state": request.GET.get("state", "all")})
    except listing.ListError as exc:
        return HttpResponseBadRequest(str(exc))
    query = {k: v for k, v in result.filters.items() if k != "scan"}
    context = {
        "scan": scan,
        "findings": result.rows,
        "next_query": _query({**query, "sort": result.sort}, after=result.next_cursor) if result.next_cursor else None,
        "has_sbom": hasattr(scan, "sbom"),
        "components": scan.components.count(),
        "errors": [e for e in scan.errors if e.get("level", "error") == "error"],
        "warnings": [e for e in scan.errors if e.get("level") == "warning"],
    }
    return render(request, "security/scan_detail.html", context)


@permission_required("security.view_scan", raise_exception=True)
def scan_sbom(request: HttpRequest, pk: int) -> HttpResponse:
    scan = get_object_or_404(Scan.objects.select_related("target"), pk=pk)
    sbom = getattr(scan, "sbom", None)
    context = {"scan": scan, "sbom": sbom, "components": scan.components.all()}
    return render(request, "security/scan_sbom.html", context)


def _download(body: str, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@permission_required("security.view_scan", raise_exception=True)
def scan_sbom_download(request: HttpRequest, pk: int) -> HttpResponse:
    scan = get_object_or_404(Scan, pk=pk)
    sbom = getattr(scan, "sbom", None)
    if sbom is None:
        return HttpResponse("This scan has no SBOM (it read no requirements).", status=404, content_type="text/plain")
    return _download(sbom.document, f"sbom-scan-{scan.pk}.cdx.json", "application/vnd.cyclonedx+json")


@permission_required("security.view_scan", raise_exception=True)
def scan_sarif_download(request: HttpRequest, pk: int) -> HttpResponse:
    scan = get_object_or_404(Scan.objects.select_related("target"), pk=pk)
    return _download(json.dumps(sarif_for_scan(scan), indent=2), f"scan-{scan.pk}.sarif", "application/sarif+json")
