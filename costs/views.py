"""The costs page (totals by workflow, tag and day, top tasks, trends, budgets, catalogue), CSV export."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_POST

from workflows.models import Workflow

from . import budgets, catalogues, charts, records
from .models import Budget, BudgetOverride, CatalogueVersion, CostRecord
from .pricing.trend import regressions

DEFAULT_DAYS = 30
TREND_WORKFLOWS = 8


def date_range(request: HttpRequest) -> tuple[date, date, list[str]]:
    """since/until from the query (default: the last 30 days, UTC), with problems to show."""
    problems = []
    until = budgets.today()
    since = until - timedelta(days=DEFAULT_DAYS - 1)
    for name in ("since", "until"):
        raw = request.GET.get(name, "").strip()
        if not raw:
            continue
        try:
            value = parse_date(raw)
        except ValueError:
            value = None
        if value is None:
            problems.append(f"'{raw[:20]}' is not a date (use YYYY-MM-DD)")
        elif name == "since":
            since = value
        else:
            until = value
    if since > until:
        problems.append("'since' is after 'until'")
        since = until
    return since, until, problems


class BudgetForm(forms.ModelForm):
    class Meta:
        model = Budget
        fields = ["name", "scope", "workflow", "tag_key", "tag_value", "period", "limit", "warn_at"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        scope = data.get("scope")
        if scope == Budget.WORKFLOW and not data.get("workflow"):
            self.add_error("workflow", "choose the workflow this budget is for")
        if scope == Budget.TAG and not (data.get("tag_key") and data.get("tag_value")):
            self.add_error("tag_key", "a tag budget needs a tag name and value")
        if data.get("limit") is not None and data["limit"] <= 0:
            self.add_error("limit", "must be above 0")
        warn = data.get("warn_at")
        if warn is not None and not 0 < warn <= 1:
            self.add_error("warn_at", "a fraction between 0 and 1 (0.8 warns at 80%)")
        return data


class OverrideForm(forms.Form):
    workflow = forms.ModelChoiceField(queryset=Workflow.objects.only("id", "name"))
    reason = forms.CharField(max_length=500, required=False)


def _days_filled(rows: list[dict[str, Any]], since: date, until: date) -> list[dict[str, Any]]:
    by_day = {row["key"]: row for row in rows}
    span = min((until - since).days + 1, 366)
    start = until - timedelta(days=span - 1)
    return [
        by_day.get(start + timedelta(days=i), {"key": start + timedelta(days=i), "total": 0.0}) for i in range(span)
    ]


@permission_required("costs.view_costrecord", raise_exception=True)
def overview(request: HttpRequest) -> HttpResponse:
    since, until, problems = date_range(request)
    names = records.tag_names()
    tag = request.GET.get("tag", "").strip() or (names[0] if names else "")
    if tag and tag not in names:
        problems.append(f"no costed workflow has a tag '{tag[:40]}'")
        tag = names[0] if names else ""
    by_workflow = records.by_workflow(since, until)
    for row in by_workflow:
        row["url"] = reverse("workflow-detail", args=[row["workflow_id"]])
    trends = []
    for row in by_workflow[:TREND_WORKFLOWS]:
        points = records.by_run(row["workflow_id"])
        # A run with nothing priced cost an unknown amount, not $0: it takes no part in the medians.
        marks = regressions([None if p["unpriced"] and not p["total"] else p["total"] for p in points])
        flagged = [p for p, m in zip(points, marks) if m]
        trends.append({"workflow": row, "svg": charts.trend(points, marks), "regressions": flagged,
                       "last": points[-1] if points else None})  # fmt: skip
    totals = records.totals(since, until)
    totals["retries_unpriced"] = records.unpriced_retries(since, until) if totals["unpriced"] else 0
    _catalogue, in_use = catalogues.current()
    context = {
        "since": since, "until": until, "problems": problems, "tag": tag, "tag_names": names,
        "totals": totals,
        "by_workflow": by_workflow, "workflow_chart": charts.bars(by_workflow, link="url", title="Cost by workflow"),
        "tag_chart": charts.bars(records.by_tag(tag, since, until), title=f"Cost by {tag}") if tag else None,
        "day_chart": charts.columns(_days_filled(records.by_day(since, until), since, until)),
        "top_tasks": records.top_tasks(since, until), "trends": trends,
        "budgets": budgets.status_rows(), "overrides": BudgetOverride.objects.select_related("workflow", "created_by", "used_by")[:10],
        "versions": CatalogueVersion.objects.defer("rows")[:10], "in_use": in_use,
        "stale": catalogues.stale_sources(in_use),
        "budget_form": BudgetForm(), "override_form": OverrideForm(),
        "can_budget": request.user.has_perm("costs.add_budget"),
        "can_override": request.user.has_perm("costs.override_budget"),
        "export_query": request.GET.urlencode(),
    }  # fmt: skip
    return render(request, "costs/overview.html", context)


EXPORT_COLUMNS = (
    "day", "workflow", "run", "node", "task", "attempt", "retry", "model", "provider", "region",
    "instance_type", "amount_usd", "status", "reason", "catalogue_version",
)  # fmt: skip


class _Echo:
    def write(self, value: str) -> str:
        return value


@permission_required("costs.view_costrecord", raise_exception=True)
def export_csv(request: HttpRequest) -> HttpResponse:
    since, until, problems = date_range(request)
    if problems:
        return HttpResponse("; ".join(problems), status=400, content_type="text/plain")
    rows = (
        CostRecord.objects.filter(day__gte=since, day__lte=until)
        .order_by("day", "run_id", "node_id", "attempt_number")
        .values_list(
            "day",
            "workflow__name",
            "run__number",
            "node_id",
            "task_id",
            "attempt_number",
            "is_retry",
            "model",
            "provider",
            "region",
            "instance_type",
            "amount",
            "status",
            "reason",
            "catalogue_id",
        )  # fmt: skip
    )
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(EXPORT_COLUMNS)
        for row in rows.iterator(chunk_size=2000):
            values = list(row)
            values[11] = f"{values[11]:.10f}"
            yield writer.writerow(values)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="costs-{since}-{until}.csv"'
    return response


@require_POST
@permission_required("costs.add_budget", raise_exception=True)
def budget_create(request: HttpRequest) -> HttpResponse:
    form = BudgetForm(request.POST)
    if form.is_valid():
        budget = form.save(commit=False)
        budget.created_by = request.user
        budget.save()
        messages.success(request, f"Budget added: {budget.describe()}, ${budget.limit:g}.")
    else:
        errors = "; ".join(f"{k}: {v[0]}" for k, v in form.errors.items())
        messages.error(request, f"The budget was not added: {errors}")
    return redirect(reverse("cost-overview") + "#budgets")


@require_POST
@permission_required("costs.delete_budget", raise_exception=True)
def budget_delete(request: HttpRequest, pk: int) -> HttpResponse:
    budget = get_object_or_404(Budget, pk=pk)
    budget.delete()
    messages.success(request, f"Budget removed: {budget.describe()}.")
    return redirect(reverse("cost-overview") + "#budgets")


@require_POST
@permission_required("costs.override_budget", raise_exception=True)
def override_create(request: HttpRequest) -> HttpResponse:
    form = OverrideForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the workflow to allow one more run of.")
    else:
        workflow = form.cleaned_data["workflow"]
        BudgetOverride.objects.create(workflow=workflow, reason=form.cleaned_data["reason"], created_by=request.user)
        messages.success(request, f"The next run of '{workflow.name}' may start although its budget is spent.")
    return redirect(reverse("cost-overview") + "#budgets")
