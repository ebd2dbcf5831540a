"""Price catalogue versions, a cost record per task attempt, roll-ups kept by the database, budgets.

Money is in USD as floats: these are estimates, shown to 4-6 significant digits.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from workflows.models import Run, TaskRun, Workflow

from .pricing import catalogue as cat


class CatalogueVersion(models.Model):
    """One version of the price catalogue: the built-in data (from the installed apache-libcloud) or
    an admin's import, with the sources it came from. Imports overlay the built-in prices."""

    BUILT, IMPORTED = "built", "imported"
    KINDS = [(BUILT, "built from packaged data"), (IMPORTED, "imported by an admin")]

    kind = models.CharField(max_length=10, choices=KINDS)
    label = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sha256 = models.CharField(max_length=64, help_text="Of the priced file (libcloud's pricing.json, or the import).")
    sources = models.JSONField(default=list, help_text="Each source: package, version, file, sha256, licence, as_of.")
    counts = models.JSONField(default=dict, help_text="Rows per provider and kind (and how many have no price).")
    rows = models.JSONField(default=list, blank=True, help_text="An import's own rows (built rows come from the file).")
    active = models.BooleanField(default=True, help_text="Inactive imports no longer take precedence.")

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("import_prices", "Can import price files")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.label}"

    @property
    def oldest_as_of(self) -> str | None:
        dates = [s.get("as_of") for s in self.sources if s.get("as_of")]
        return min(dates) if dates else None

    def stale_sources(self, today: date | None = None) -> list[dict[str, Any]]:
        return [
            {**s, "age_days": cat.age_days(s["as_of"], today)}
            for s in self.sources
            if s.get("as_of") and cat.is_stale(s["as_of"], today)
        ]


class CostRecord(models.Model):
    """What one task attempt cost, with the rates and inputs it was priced from."""

    PRICED, PARTIAL, UNPRICED = "priced", "partial", "unpriced"
    STATUSES = [(s, s) for s in (PRICED, PARTIAL, UNPRICED)]

    # Every index is written with each record, in the run's hot path: the foreign keys' own
    # indexes would repeat the leading columns of the indexes and constraint below.
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="cost_records", db_index=False)
    taskrun = models.ForeignKey(TaskRun, on_delete=models.CASCADE, related_name="cost_records", db_index=False)
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="cost_records", db_index=False)
    node_id = models.CharField(max_length=400)
    task_id = models.CharField(max_length=200)
    attempt_number = models.PositiveIntegerField()
    is_retry = models.BooleanField(default=False, help_text="Attempt 2 or later: what the retries cost.")
    day = models.DateField(help_text="UTC day the attempt ended.")
    created_at = models.DateTimeField(default=timezone.now)
    model = models.CharField(max_length=12)
    provider = models.CharField(max_length=10)
    region = models.CharField(max_length=40)
    instance_type = models.CharField(max_length=60)
    catalogue = models.ForeignKey(CatalogueVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    amount = models.FloatField(help_text="USD; only the priced lines (see status and reason).")
    status = models.CharField(max_length=10, choices=STATUSES)
    reason = models.TextField(blank=True, help_text="Why (part of) it is unpriced.")
    rates = models.JSONField(default=dict)
    inputs = models.JSONField(default=dict)
    lines = models.JSONField(default=list)
    tags = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["run", "node_id", "attempt_number"]
        indexes = [
            models.Index(fields=["run", "node_id"], name="cost_run_node"),
            models.Index(fields=["workflow", "day"], name="cost_workflow_day"),
            models.Index(fields=["day", "amount"], name="cost_day_amount"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["taskrun", "attempt_number"], name="cost_one_per_attempt"),
        ]

    def __str__(self) -> str:
        return f"{self.run} {self.node_id} attempt {self.attempt_number}: ${self.amount:.6f}"


class RunCost(models.Model):
    """A run's running total, kept in the same transaction as each record (the header reads it)."""

    run = models.OneToOneField(Run, on_delete=models.CASCADE, primary_key=True, related_name="cost")
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="+")
    total = models.FloatField(default=0.0)
    retries = models.FloatField(default=0.0)
    records = models.PositiveIntegerField(default=0)
    unpriced = models.PositiveIntegerField(default=0, help_text="Records with an unpriced part.")
    target = models.JSONField(
        default=dict, help_text="provider, region, instance_type, model and where they came from."
    )
    final = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["workflow", "run"], name="runcost_workflow_run")]


class CostDay(models.Model):
    """Totals per workflow, UTC day and tag set, added to as records are stored: the roll-ups by
    workflow, tag and day read this, so they cost the same with a million records as with ten thousand."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    tags_key = models.CharField(max_length=500, help_text="The tags as canonical JSON (part of the key).")
    tags = models.JSONField(default=dict, blank=True)
    total = models.FloatField(default=0.0)
    retries = models.FloatField(default=0.0)
    records = models.PositiveIntegerField(default=0)
    unpriced = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workflow", "day", "tags_key"], name="costday_key")]
        indexes = [models.Index(fields=["day", "workflow"], name="costday_day_workflow")]


class Budget(models.Model):
    """A spending limit for a workflow, a tag (key=value) or everything, per run, day or month."""

    WORKFLOW, TAG, ALL = "workflow", "tag", "all"
    SCOPES = [(WORKFLOW, "one workflow"), (TAG, "workflows with a tag"), (ALL, "every workflow")]
    RUN, DAY, MONTH = "run", "day", "month"
    PERIODS = [(RUN, "per run"), (DAY, "per day (UTC)"), (MONTH, "per month (UTC)")]

    name = models.CharField(max_length=200, blank=True)
    scope = models.CharField(max_length=10, choices=SCOPES, default=WORKFLOW)
    workflow = models.ForeignKey(Workflow, null=True, blank=True, on_delete=models.CASCADE, related_name="budgets")
    tag_key = models.CharField(max_length=100, blank=True)
    tag_value = models.CharField(max_length=200, blank=True)
    period = models.CharField(max_length=6, choices=PERIODS, default=DAY)
    limit = models.FloatField(help_text="USD")
    warn_at = models.FloatField(default=0.8, help_text="Warn when this fraction of the limit is spent.")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["scope", "period", "id"]
        permissions = [("override_budget", "Can let a run start although its budget is spent")]

    def __str__(self) -> str:
        return self.name or self.describe()

    def describe(self) -> str:
        if self.scope == self.WORKFLOW:
            who = f"workflow '{self.workflow.name if self.workflow else '?'}'"
        elif self.scope == self.TAG:
            who = f"tag {self.tag_key}={self.tag_value}"
        else:
            who = "all workflows"
        return f"{who}, {dict(self.PERIODS)[self.period]}"

    def get_absolute_url(self) -> str:
        return reverse("cost-overview") + "#budgets"


class BudgetOverride(models.Model):
    """An admin's leave for one more run of a workflow although a period budget is spent."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="+")
    budget = models.ForeignKey(Budget, null=True, blank=True, on_delete=models.SET_NULL, related_name="overrides")
    reason = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    used_by = models.OneToOneField(
        Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="budget_override"
    )

    class Meta:
        ordering = ["-created_at"]


class BudgetAlert(models.Model):
    """A budget crossing that a run met: a warning, the run stopped, or a run refused."""

    WARNING, STOPPED, REFUSED = "warning", "stopped", "refused"
    LEVELS = [(s, s) for s in (WARNING, STOPPED, REFUSED)]

    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.CASCADE, related_name="budget_alerts")
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="+")
    budget = models.ForeignKey(Budget, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    level = models.CharField(max_length=10, choices=LEVELS)
    scope = models.CharField(max_length=300)
    spent = models.FloatField()
    limit = models.FloatField()
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
