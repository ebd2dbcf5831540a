"""Workflows, runs, the task runs (one per node or matrix leg), their attempts and log lines."""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse

from .engine import executor as ex
from .engine.dag import Plan, build_plan
from .engine.spec import WorkflowSpec, parse_workflow


@functools.lru_cache(maxsize=256)
def _parse_cached(source: str, fmt: str) -> WorkflowSpec:
    return parse_workflow(source, f"workflow.{fmt}")


@functools.lru_cache(maxsize=64)
def _plan_cached(source: str, fmt: str) -> Plan:
    # Plans are read-only once built, so runs of one workflow version share one.
    return build_plan(_parse_cached(source, fmt))


class Workflow(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    source = models.TextField()
    format = models.CharField(max_length=4, default="yaml", choices=[("yaml", "YAML"), ("json", "JSON")])
    version = models.PositiveIntegerField(default=1)
    base_dir = models.CharField(
        max_length=1000, blank=True, help_text="Directory the tasks run in (scripts are found relative to it)."
    )
    tags = models.JSONField(default=dict, blank=True)
    schedule = models.CharField(max_length=100, blank=True)
    last_scheduled_at = models.DateTimeField(null=True, blank=True, help_text="The minute the schedule last fired.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("workflow-detail", args=[self.pk])

    def spec(self) -> WorkflowSpec:
        return _parse_cached(self.source, self.format)

    def workdir(self) -> str:
        if self.base_dir:
            return self.base_dir
        path = settings.RUNNER_WORKSPACES / self.name
        path.mkdir(parents=True, exist_ok=True)
        return str(path)


class WorkflowVersion(models.Model):
    """Every saved source, so a run (and its re-runs) use exactly the file they started with."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    source = models.TextField()
    format = models.CharField(max_length=4, default="yaml")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        unique_together = [("workflow", "version")]
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"{self.workflow.name} v{self.version}"

    def spec(self) -> WorkflowSpec:
        return _parse_cached(self.source, self.format)

    def plan(self) -> Plan:
        return _plan_cached(self.source, self.format)


class Run(models.Model):
    QUEUED, RUNNING, SUCCESS, FAILED, CANCELLED = "queued", "running", "success", "failed", "cancelled"
    STATUSES = [(s, s) for s in (QUEUED, RUNNING, SUCCESS, FAILED, CANCELLED)]
    FINAL = frozenset({SUCCESS, FAILED, CANCELLED})
    TRIGGERS = [(t, t) for t in ("ui", "api", "cli", "schedule", "rerun")]

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="runs")
    # RESTRICT, not PROTECT: deleting a workflow deletes its runs and versions together.
    workflow_version = models.ForeignKey(WorkflowVersion, on_delete=models.RESTRICT, related_name="runs")
    number = models.PositiveIntegerField(help_text="The run's number within its workflow (#1, #2, ...).")
    status = models.CharField(max_length=16, choices=STATUSES, default=QUEUED)
    trigger = models.CharField(max_length=16, choices=TRIGGERS, default="ui")
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    params = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    rerun_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reruns")
    # Live-update and recovery bookkeeping.
    last_seq = models.BigIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    resumes = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="run_status_created"),
            models.Index(fields=["workflow", "-created_at"], name="run_workflow_created"),
            models.Index(fields=["workflow", "status", "-created_at"], name="run_wf_status_created"),
        ]
        constraints = [models.UniqueConstraint(fields=["workflow", "number"], name="run_number_per_workflow")]
        permissions = [("trigger_run", "Can trigger and re-run runs"), ("cancel_run", "Can cancel runs")]

    def __str__(self) -> str:
        return f"{self.workflow.name} #{self.number}"

    def get_absolute_url(self) -> str:
        return reverse("run-detail", args=[self.pk])

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL

    @property
    def duration(self) -> float | None:
        if not self.started_at:
            return None
        from django.utils import timezone

        end = self.finished_at or timezone.now()
        return (end - self.started_at).total_seconds()

    def spec(self) -> WorkflowSpec:
        return self.workflow_version.spec()

    def plan(self) -> Plan:
        return self.workflow_version.plan()


class TaskRun(models.Model):
    PENDING, RUNNING, RETRYING = ex.PENDING, ex.RUNNING, ex.RETRYING
    SUCCESS, FAILED, SKIPPED, UPSTREAM_FAILED, CANCELLED = (
        ex.SUCCESS, ex.FAILED, ex.SKIPPED, ex.UPSTREAM_FAILED, ex.CANCELLED,
    )  # fmt: skip
    STATUSES = [(s, s) for s in (PENDING, RUNNING, RETRYING, SUCCESS, FAILED, SKIPPED, UPSTREAM_FAILED, CANCELLED)]
    # What "re-run failed tasks" starts again (with everything downstream of them).
    UNSUCCESSFUL = frozenset({FAILED, UPSTREAM_FAILED, CANCELLED})

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="tasks")
    node_id = models.CharField(max_length=400)
    task_id = models.CharField(max_length=200)
    leg = models.JSONField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0, help_text="Topological order within the run.")
    status = models.CharField(max_length=16, choices=STATUSES, default=PENDING)
    attempts = models.PositiveIntegerField(default=0)
    exit_code = models.IntegerField(null=True, blank=True)
    reason = models.TextField(blank=True)
    command = models.TextField(blank=True)
    outputs = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    wall_s = models.FloatField(null=True, blank=True)
    cpu_s = models.FloatField(null=True, blank=True)
    peak_rss_bytes = models.BigIntegerField(null=True, blank=True)
    reused = models.BooleanField(default=False, help_text="Result carried over from an earlier run by a re-run.")
    seq = models.BigIntegerField(default=0, help_text="The run event that last changed this row.")

    class Meta:
        ordering = ["run", "position"]
        constraints = [models.UniqueConstraint(fields=["run", "node_id"], name="taskrun_node_per_run")]
        indexes = [models.Index(fields=["run", "status"], name="taskrun_run_status")]

    def __str__(self) -> str:
        return f"{self.run} {self.node_id}"

    @property
    def is_final(self) -> bool:
        return self.status in ex.TERMINAL

    def as_event(self) -> dict[str, Any]:
        """The public state of this task run, as sent to browsers (snapshot and events alike)."""
        return task_state(self.__dict__)


TASK_FIELDS = (
    "id", "node_id", "task_id", "leg", "status", "attempts", "exit_code", "reason", "outputs",
    "started_at", "finished_at", "wall_s", "cpu_s", "peak_rss_bytes", "reused", "seq",
)  # fmt: skip


def task_state(values: dict[str, Any]) -> dict[str, Any]:
    state = {field: values.get(field) for field in TASK_FIELDS}
    for key in ("started_at", "finished_at"):
        if state[key] is not None and hasattr(state[key], "isoformat"):
            state[key] = state[key].isoformat()
    return state


class TaskAttempt(models.Model):
    STATUSES = [(s, s) for s in ("running", "success", "failed", "timeout", "cancelled", "lost")]

    taskrun = models.ForeignKey(TaskRun, on_delete=models.CASCADE, related_name="attempt_set")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=STATUSES, default="running")
    command = models.TextField(blank=True)
    ready_at = models.DateTimeField(
        null=True, blank=True, help_text="When its needs were done (queue wait = started - ready)."
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    signal = models.IntegerField(null=True, blank=True)
    wall_s = models.FloatField(null=True, blank=True)
    cpu_user_s = models.FloatField(null=True, blank=True)
    cpu_sys_s = models.FloatField(null=True, blank=True)
    peak_rss_bytes = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    retry_delay = models.FloatField(null=True, blank=True)
    pid = models.IntegerField(null=True, blank=True)
    host = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["taskrun", "number"]
        constraints = [models.UniqueConstraint(fields=["taskrun", "number"], name="attempt_number_per_task")]

    @property
    def cpu_s(self) -> float | None:
        if self.cpu_user_s is None:
            return None
        return self.cpu_user_s + (self.cpu_sys_s or 0.0)


class LogLine(models.Model):
    """One line a task printed, numbered per attempt; stored in batches as the task runs."""

    STDOUT, STDERR, SYSTEM = "o", "e", "s"
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="log_lines")
    taskrun = models.ForeignKey(TaskRun, on_delete=models.CASCADE, related_name="log_lines")
    attempt = models.PositiveIntegerField()
    lineno = models.PositiveIntegerField()
    stream = models.CharField(max_length=1, default=STDOUT)
    ts = models.FloatField(help_text="Unix time the line was read.")
    text = models.TextField()

    class Meta:
        ordering = ["taskrun", "attempt", "lineno"]
        constraints = [
            models.UniqueConstraint(fields=["taskrun", "attempt", "lineno"], name="logline_order"),
        ]


class WorkerHeartbeat(models.Model):
    """A live Huey consumer; the CLI looks here to know whether a server will pick up its run."""

    name = models.CharField(max_length=200, unique=True)
    host = models.CharField(max_length=200)
    pid = models.IntegerField()
    mode = models.CharField(max_length=20)
    started_at = models.DateTimeField(auto_now_add=True)
    seen_at = models.DateTimeField()
