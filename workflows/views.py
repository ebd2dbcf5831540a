"""Workflow and run pages: thin views over the models and the runner."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.http import require_POST

from . import runner, saving
from .engine.dag import build_plan
from .extensions import extension_classes, graph_nodes
from .forms import TriggerForm, WorkflowForm
from .graph import layout_plan, render_svg
from .models import Run, TaskRun, Workflow

PAGE_SIZE = 50
RUN_COLUMNS = ("id", "number", "status", "trigger", "created_at", "started_at", "finished_at", "workflow_id", "message")


def _can(request: HttpRequest, perm: str) -> bool:
    return request.user.has_perm(perm)


# ------------------------------------------------------------------ workflows


@permission_required("workflows.view_workflow", raise_exception=True)
def workflow_list(request: HttpRequest) -> HttpResponse:
    last = Run.objects.filter(workflow=OuterRef("pk")).order_by("-created_at", "-id")
    workflows = Workflow.objects.annotate(
        last_status=Subquery(last.values("status")[:1]),
        last_run_id=Subquery(last.values("id")[:1]),
        last_run_at=Subquery(last.values("created_at")[:1]),
        run_count=Count("runs"),
    )
    return render(request, "workflows/workflow_list.html", {"workflows": workflows})


@permission_required("workflows.view_workflow", raise_exception=True)
def workflow_detail(request: HttpRequest, pk: int) -> HttpResponse:
    workflow = get_object_or_404(Workflow, pk=pk)
    spec = workflow.spec()
    plan = build_plan(spec)
    context = {
        "workflow": workflow,
        "spec": spec,
        "svg": render_svg(layout_plan(plan, [(n, label) for n, label, _ in graph_nodes(spec)])),
        "node_count": len(plan.nodes),
        "trigger_form": TriggerForm(spec),
        "runs": workflow.runs.only(*RUN_COLUMNS)[:20],
        "versions": workflow.versions.select_related("created_by")[:20],
        "can_trigger": _can(request, "workflows.trigger_run"),
        "can_edit": _can(request, "workflows.change_workflow"),
    }
    return render(request, "workflows/workflow_detail.html", context)


@permission_required("workflows.add_workflow", raise_exception=True)
def workflow_create(request: HttpRequest) -> HttpResponse:
    form = WorkflowForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            workflow = saving.save_workflow(
                form.cleaned_data["source"],
                fmt=form.format,
                spec=form.spec,
                user=request.user,
                base_dir=form.cleaned_data["base_dir"] or None,
            )
        except saving.SaveRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Workflow '{workflow.name}' saved.")
            return redirect(workflow)
    return render(request, "workflows/workflow_form.html", {"form": form, "workflow": None})


@permission_required("workflows.change_workflow", raise_exception=True)
def workflow_edit(request: HttpRequest, pk: int) -> HttpResponse:
    workflow = get_object_or_404(Workflow, pk=pk)
    initial = {"source": workflow.source, "base_dir": workflow.base_dir}
    form = WorkflowForm(request.POST or None, request.FILES or None, instance=workflow, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:  # refused before anything changes
            saving.update_workflow(
                workflow,
                form.cleaned_data["source"],
                fmt=form.format,
                spec=form.spec,
                user=request.user,
                base_dir=form.cleaned_data["base_dir"],
            )
        except saving.SaveRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Workflow '{workflow.name}' saved as version {workflow.version}.")
            return redirect(workflow)
    return render(request, "workflows/workflow_form.html", {"form": form, "workflow": workflow})


@require_POST
@permission_required("workflows.trigger_run", raise_exception=True)
def workflow_trigger(request: HttpRequest, pk: int) -> HttpResponse:
    workflow = get_object_or_404(Workflow, pk=pk)
    form = TriggerForm(workflow.spec(), request.POST)
    if form.is_valid():
        try:
            run = runner.create_run(workflow, params=form.cleaned_data, trigger="ui", user=request.user)
        except runner.ParamError as exc:
            messages.error(request, str(exc))
        else:
            return redirect(run)
    else:
        messages.error(request, "Check the parameters: " + "; ".join(f"{k}: {v[0]}" for k, v in form.errors.items()))
    return redirect(workflow)


# ------------------------------------------------------------------ runs


def _parse_day(value: str, end: bool = False) -> datetime | None:
    if not value:
        return None
    # A plain date means the whole day, so try it first: parse_datetime() also accepts
    # "2024-03-03" (as midnight), which made "until" leave out its own day.
    try:  # a well-formed impossible date (2024-02-30) raises rather than returning None
        day = parse_date(value)
        if day is not None:
            moment = datetime.combine(day + timedelta(days=1) if end else day, time.min)
        else:
            moment = parse_datetime(value)
            if moment is None:
                return None
    except (ValueError, OverflowError):
        return None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


@permission_required("workflows.view_run", raise_exception=True)
def run_list(request: HttpRequest) -> HttpResponse:
    """Keyset pagination on (created_at, id): as fast on page 2,000 as on page 1, no COUNT(*)."""
    runs = Run.objects.select_related("workflow").only(*RUN_COLUMNS, "workflow__name").order_by("-created_at", "-id")
    filters = {k: request.GET.get(k, "").strip() for k in ("workflow", "status", "since", "until")}
    problems = []
    if filters["workflow"]:
        if filters["workflow"].isdigit() and len(filters["workflow"]) < 19:
            runs = runs.filter(workflow_id=int(filters["workflow"]))
        else:
            runs = runs.filter(workflow__name=filters["workflow"])
    if filters["status"]:
        runs = runs.filter(status=filters["status"])
    for key, lookup, end in (("since", "created_at__gte", False), ("until", "created_at__lt", True)):
        if filters[key]:
            moment = _parse_day(filters[key], end=end)
            if moment is None:
                problems.append(f"'{filters[key]}' is not a date (use YYYY-MM-DD)")
            else:
                runs = runs.filter(**{lookup: moment})
    before = request.GET.get("before", "")
    if before:
        try:
            stamp, run_id = before.rsplit("_", 1)
            moment = datetime.fromisoformat(stamp)
            runs = runs.filter(Q(created_at__lt=moment) | Q(created_at=moment, id__lt=int(run_id)))
        except ValueError:
            problems.append("bad page link")
    page = list(runs[: PAGE_SIZE + 1])
    more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    next_cursor = f"{page[-1].created_at.isoformat()}_{page[-1].id}" if more and page else None
    query = {k: v for k, v in filters.items() if v}
    context = {
        "runs": page,
        "filters": filters,
        "problems": problems,
        "statuses": [s for s, _ in Run.STATUSES],
        "workflows": Workflow.objects.only("id", "name"),
        "next_query": _query(query, before=next_cursor) if next_cursor else None,
        "first_query": _query(query) if before else None,
        "live_list": not before,
        "filters_query": query,
    }
    return render(request, "workflows/run_list.html", context)


def _query(params: dict[str, str], **extra: Any) -> str:
    from urllib.parse import urlencode

    return "?" + urlencode({**params, **{k: v for k, v in extra.items() if v}})


@permission_required("workflows.view_run", raise_exception=True)
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(
        Run.objects.select_related("workflow", "workflow_version", "triggered_by", "rerun_of"), pk=pk
    )
    plan = run.plan()
    tasks = list(run.tasks.all())
    statuses = {t.node_id: t.status for t in tasks}
    ids = {t.node_id: t.pk for t in tasks}
    counts = dict(Counter(t.status for t in tasks))
    pre = graph_nodes(run.spec(), run.pk)  # e.g. the security gate, drawn before the roots
    statuses.update({node_id: status for node_id, _label, status in pre})
    context = {
        "run": run,
        "tasks": tasks,
        "svg": render_svg(layout_plan(plan, [(n, label) for n, label, _ in pre]), statuses, task_ids=ids),
        "counts": sorted(counts.items()),
        "can_cancel": _can(request, "workflows.cancel_run") and not run.is_final,
        "can_rerun": _can(request, "workflows.trigger_run"),
        "has_failures": any(t.status in TaskRun.UNSUCCESSFUL for t in tasks),
        "extensions": [cls for cls in extension_classes() if cls.panel_template or cls.script],
    }
    return render(request, "workflows/run_detail.html", context)


@require_POST
@permission_required("workflows.cancel_run", raise_exception=True)
def run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(Run, pk=pk)
    if not runner.request_cancel(run, request.user):
        messages.error(request, "The run has already ended.")
    return redirect(run)


@require_POST
@permission_required("workflows.trigger_run", raise_exception=True)
def run_rerun(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(Run, pk=pk)
    if not run.is_final:
        messages.error(request, "Wait for the run to end (or cancel it) before re-running it.")
        return redirect(run)
    failed_only = request.POST.get("failed_only") == "1"
    if failed_only and not run.tasks.filter(status__in=TaskRun.UNSUCCESSFUL).exists():
        messages.error(request, "Nothing failed in this run.")
        return redirect(run)
    return redirect(runner.rerun(run, failed_only=failed_only, user=request.user))
