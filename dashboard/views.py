"""The overview page and the health check."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.decorators import login_not_required, permission_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from workflows.models import Run, Workflow


def overview_stats() -> dict[str, Any]:
    """The overview's cards: runs and failures of the last 7 days, and the number of workflows."""
    since = timezone.now() - timedelta(days=7)
    week = Run.objects.filter(created_at__gte=since).aggregate(
        total=Count("id"),
        failed=Count("id", filter=Q(status=Run.FAILED)),
        succeeded=Count("id", filter=Q(status=Run.SUCCESS)),
    )
    finished = (week["failed"] or 0) + (week["succeeded"] or 0)
    return {
        "week_total": week["total"] or 0,
        "week_failed": week["failed"] or 0,
        "failure_rate": round(week["failed"] / finished * 100, 1) if finished else None,
        "workflow_count": Workflow.objects.count(),
    }


@permission_required("workflows.view_run", raise_exception=True)
def overview(request: HttpRequest) -> HttpResponse:
    context = {
        "active": Run.objects.filter(status__in=[Run.QUEUED, Run.RUNNING]).select_related("workflow")[:50],
        "recent": Run.objects.exclude(status__in=[Run.QUEUED, Run.RUNNING]).select_related("workflow")[:20],
        "stats": overview_stats(),
    }
    return render(request, "dashboard/overview.html", context)


@permission_required("workflows.view_run", raise_exception=True)
def overview_stats_json(request: HttpRequest) -> JsonResponse:
    """The cards again, for the overview page to refresh them as runs start and end."""
    return JsonResponse(overview_stats())


@login_not_required
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})
