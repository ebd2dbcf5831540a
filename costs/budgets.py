"""Budgets: which limits apply to a workflow, what each period has spent, and refusing new runs.

A limit comes from a Budget row (per workflow, per tag key=value, or for everything) or from the
workflow file's own `budget: {run, day, month, warn_at}`. Periods are UTC days and months.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet, Sum

from workflows.models import Workflow

from .models import Budget, BudgetOverride, CostDay


@dataclass
class Limit:
    period: str  # run, day or month
    limit: float
    warn_at: float
    scope: str  # what it covers, in words
    kind: str = Budget.WORKFLOW
    workflow_id: int | None = None
    tag_key: str = ""
    tag_value: str = ""
    budget_id: int | None = None  # None: from the workflow file

    def describe(self) -> str:
        period = {"run": "per run", "day": "today (UTC)", "month": "this month (UTC)"}[self.period]
        return f"{self.scope} budget ${self.limit:g} {period}"


def today() -> date:
    return datetime.now(UTC).date()


def period_start(period: str, day: date | None = None) -> date:
    day = day or today()
    return day.replace(day=1) if period == Budget.MONTH else day


def any_active() -> bool:
    """Whether any Budget row is active: a plain query (~0.05 ms) that spares each new run the
    ORM's matching one (~1 ms, asked twice a run) where none is set, as on most installs."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {connection.ops.quote_name(Budget._meta.db_table)} WHERE active LIMIT 1")
        return cursor.fetchone() is not None


def limits_for(workflow: Workflow, tags: dict[str, Any], file_budget: dict[str, Any] | None) -> list[Limit]:
    limits = []
    rows: Any = ()
    if any_active():
        match = Q(scope=Budget.ALL) | Q(scope=Budget.WORKFLOW, workflow_id=workflow.pk)
        for key, value in (tags or {}).items():
            match |= Q(scope=Budget.TAG, tag_key=key, tag_value=str(value))
        rows = Budget.objects.filter(match, active=True).select_related("workflow")
    for budget in rows:
        scope = {
            Budget.ALL: "all workflows'",
            Budget.WORKFLOW: f"workflow '{workflow.name}'",
            Budget.TAG: f"tag {budget.tag_key}={budget.tag_value}",
        }[budget.scope]
        limits.append(
            Limit(budget.period, budget.limit, budget.warn_at, scope, budget.scope, budget.workflow_id,
                  budget.tag_key, budget.tag_value, budget.pk)
        )  # fmt: skip
    file_budget = file_budget or {}
    for period in (Budget.RUN, Budget.DAY, Budget.MONTH):
        if file_budget.get(period):
            limits.append(
                Limit(period, float(file_budget[period]), float(file_budget.get("warn_at") or 0.8),
                      f"workflow '{workflow.name}' (its file)", Budget.WORKFLOW, workflow.pk)
            )  # fmt: skip
    return limits


def _period_days(limit: Limit, day: date | None = None) -> QuerySet[CostDay]:
    rows = CostDay.objects.filter(day__gte=period_start(limit.period, day))
    if limit.kind == Budget.WORKFLOW:
        rows = rows.filter(workflow_id=limit.workflow_id)
    elif limit.kind == Budget.TAG:
        rows = rows.filter(**{f"tags__{limit.tag_key}": limit.tag_value})
    return rows


def spent(limit: Limit, day: date | None = None) -> float:
    """What the limit's period has spent so far (0 for per-run limits: a run starts at nothing)."""
    if limit.period == Budget.RUN:
        return 0.0
    return _period_days(limit, day).aggregate(total=Sum("total"))["total"] or 0.0


def spent_limits(workflow: Workflow, tags: dict[str, Any], file_budget: dict[str, Any] | None):
    """The period limits already used up: [(limit, spent)]."""
    result = []
    for limit in limits_for(workflow, tags, file_budget):
        if limit.period == Budget.RUN:
            continue
        so_far = spent(limit)
        if so_far >= limit.limit:
            result.append((limit, so_far))
    return result


def spent_message(limit: Limit, so_far: float) -> str:
    return f"the {limit.describe()} is spent (${so_far:.4f} so far)"


def unused_override(workflow: Workflow) -> BudgetOverride | None:
    return BudgetOverride.objects.filter(workflow=workflow, used_by__isnull=True).order_by("created_at").first()


def refusal(workflow: Workflow) -> str | None:
    """Why a new run of this workflow may not start now, or None."""
    spec = workflow.spec()
    spent_now = spent_limits(workflow, spec.tags, spec.budget)
    if not spent_now or unused_override(workflow) is not None:
        return None
    limit, so_far = spent_now[0]
    return f"refused: {spent_message(limit, so_far)}; an admin can allow one more run on the Costs page"


def status_rows() -> list[dict[str, Any]]:
    """Every active Budget with what its current period has spent, and how many of its attempts are
    unpriced (not in that amount), for the costs page."""
    rows = []
    for budget in Budget.objects.filter(active=True).select_related("workflow"):
        limit = Limit(budget.period, budget.limit, budget.warn_at, budget.describe(), budget.scope,
                      budget.workflow_id, budget.tag_key, budget.tag_value, budget.pk)  # fmt: skip
        sums = {"total": 0.0, "records": 0, "unpriced": 0}
        if budget.period != Budget.RUN:
            found = _period_days(limit).aggregate(total=Sum("total"), records=Sum("records"), unpriced=Sum("unpriced"))
            sums.update({k: v for k, v in found.items() if v is not None})
        so_far = sums["total"]
        rows.append({"budget": budget, "spent": so_far, "fraction": so_far / budget.limit if budget.limit else 0.0,
                     "spent_records": sums["records"], "spent_unpriced": sums["unpriced"],
                     "state": state(so_far, budget.limit, budget.warn_at, budget.period)})  # fmt: skip
    return rows


def state(so_far: float, limit: float, warn_at: float, period: str) -> str:
    if period == Budget.RUN:
        return "per run"
    if so_far >= limit:
        return "spent"
    if so_far >= warn_at * limit:
        return "warning"
    return "ok"
