"""The overview page and the health check."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_not_required, permission_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from workflows.models import Run, Workflow


@permission_required("workflows.view_run", raise_exception=True)
def overview(request: HttpRequest) -> HttpResponse:
    since = timezone.now() - timedelta(days=7)
    week = Run.objects.filter(created_at__gte=since).aggregate(
        total=Count("id"),
        failed=Count("id", filter=Q(status=Run.FAILED)),
        succeeded=Count("id", filter=Q(status=Run.SUCCESS)),
    )
    finished = (week["failed"] or 0) + (week["succeeded"] or 0)
    context = {
        "active": Run.objects.filter(status__in=[Run.QUEUED, Run.RUNNING]).select_related("workflow")[:50],
        "recent": Run.objects.exclude(status__in=[Run.QUEUED, Run.RUNNING]).select_related("workflow")[:20],
        "week": week,
        "failure_rate": (week["failed"] / finished * 100) if finished else None,
        "workflow_count": Workflow.objects.count(),
    }
    return render(request, "dashboard/overview.html", context)


@login_not_required
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})
