"""A run's trace and its spans, stored so the built-in waterfall needs no Jaeger or Zipkin.

Times are Unix microseconds (Zipkin's unit); a span whose duration is still NULL is running.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.urls import reverse

from workflows.models import Run, TaskRun


class Trace(models.Model):
    """One per traced run: its trace id, how long it took, and whether its spans were kept."""

    run = models.OneToOneField(Run, on_delete=models.CASCADE, related_name="trace")
    trace_id = models.CharField(max_length=32, unique=True)
    root_span_id = models.CharField(max_length=16)
    status = models.CharField(max_length=16, default=Run.RUNNING, help_text="The run's status.")
    started_at = models.DateTimeField(db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    span_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    sampler = models.CharField(max_length=16, help_text="always_on, always_off, ratio or tail.")
    sampled = models.BooleanField(null=True, blank=True, help_text="Kept and exported; empty until decided.")
    decision = models.CharField(max_length=200, blank=True, help_text="Why it was kept or dropped.")
    # A hash of the per-run token that lets the run's scripts send spans; never the token itself.
    token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    service = models.CharField(max_length=200, blank=True, help_text="The service name of the runner's spans.")

    # Where the spans of the run's task attempts come from (tracing.attempt_spans).
    STORED, PENDING, MADE, NONE = "stored", "pending", "made", "none"
    ATTEMPT_SPANS = [
        (STORED, "stored as the run went (traces made before attempt spans were derived)"),
        (PENDING, "made from the run's attempt rows when read; not yet from their final state"),
        (MADE, "made from the run's final attempt rows"),
        (NONE, "none: the trace keeps no spans"),
    ]
    attempt_spans = models.CharField(max_length=8, choices=ATTEMPT_SPANS, default=STORED)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["status", "-started_at"], name="trace_status_started")]

    def __str__(self) -> str:
        return f"trace {self.trace_id} ({self.run})"

    def get_absolute_url(self) -> str:
        return reverse("trace-detail", args=[self.trace_id])

    @property
    def is_final(self) -> bool:
        return self.status in Run.FINAL


class Span(models.Model):
    RUNNING, OK, ERROR, UNSET = "running", "ok", "error", "unset"
    STATUSES = [(s, s) for s in (RUNNING, OK, ERROR, UNSET)]
    SOURCES = [("runner", "runner"), ("child", "child script")]

    # No index of its own: the unique (trace, span_id) and the (trace, start_us) index lead with it.
    trace = models.ForeignKey(Trace, on_delete=models.CASCADE, related_name="spans", db_index=False)
    span_id = models.CharField(max_length=16)
    parent_id = models.CharField(max_length=16, blank=True)
    name = models.CharField(max_length=300)
    kind = models.CharField(max_length=16, default="internal")
    service = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=8, choices=SOURCES, default="runner")
    start_us = models.BigIntegerField()
    duration_us = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=STATUSES, default=RUNNING)
    status_message = models.TextField(blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    events = models.JSONField(default=list, blank=True)
    # The task run (and attempt) the span belongs to, for the link to its log lines.
    taskrun = models.ForeignKey(TaskRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    attempt = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["trace", "start_us", "id"]
        constraints = [models.UniqueConstraint(fields=["trace", "span_id"], name="span_id_per_trace")]
        indexes = [models.Index(fields=["trace", "start_us"], name="span_trace_start")]

    def __str__(self) -> str:
        return f"{self.name} ({self.span_id})"

    def as_dict(self) -> dict[str, Any]:
        return span_dict(self.__dict__)


SPAN_FIELDS = (
    "span_id", "parent_id", "name", "kind", "service", "source", "start_us", "duration_us", "status",
    "status_message", "attributes", "events", "taskrun_id", "attempt",
)  # fmt: skip


def span_dict(values: dict[str, Any]) -> dict[str, Any]:
    """The public shape of a span, as the pages and the API send it."""
    data = {field: values.get(field) for field in SPAN_FIELDS}
    data["taskrun"] = data.pop("taskrun_id")
    return data
