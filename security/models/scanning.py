"""Scans, findings (one model for code, secret and dependency findings) with triage history,
SBOM components, run gate results, and the local OSV advisory store."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from ..scanners import severity as sev

SEVERITY_CHOICES = [(s, s) for s in sev.SEVERITIES]


class Target(models.Model):
    """A scanned folder. Findings belong to a target: a later scan of it decides what is fixed."""

    root = models.CharField(max_length=1000, unique=True, help_text="Absolute path of the scanned folder.")
    name = models.CharField(max_length=200)
    workflow = models.ForeignKey(
        "workflows.Workflow", null=True, blank=True, on_delete=models.SET_NULL, related_name="scan_targets"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Scan(models.Model):
    QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
    STATUSES = [(s, s) for s in (QUEUED, RUNNING, DONE, FAILED)]
    SOURCES = [(s, s) for s in ("cli", "api", "gate", "sarif")]

    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="scans")
    run = models.ForeignKey(
        "workflows.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="security_scans"
    )
    workflow = models.ForeignKey(
        "workflows.Workflow", null=True, blank=True, on_delete=models.SET_NULL, related_name="security_scans"
    )
    source = models.CharField(max_length=8, choices=SOURCES, default="cli")
    status = models.CharField(max_length=8, choices=STATUSES, default=QUEUED)
    tools = models.JSONField(default=list, help_text="The scanners this scan ran.")
    tool_runs = models.JSONField(default=dict, help_text="Per tool: version, files, cached, seconds.")
    requested = models.JSONField(default=dict, help_text="What was asked for: files, manifests, environment.")
    files = models.JSONField(default=list, help_text="Every file the code scanners looked at (relative).")
    manifests = models.JSONField(default=list)
    errors = models.JSONField(default=list)
    counts = models.JSONField(default=dict, help_text="Findings seen, per severity.")
    new_count = models.PositiveIntegerField(default=0)
    fixed_count = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["target", "-created_at"], name="scan_target_created")]

    def __str__(self) -> str:
        return f"scan #{self.pk} of {self.target.name}"

    def get_absolute_url(self) -> str:
        return reverse("scan-detail", args=[self.pk])

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class Component(models.Model):
    """A package the scan's SBOM lists."""

    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="components")
    name = models.CharField(max_length=200)
    version = models.CharField(max_length=100, blank=True)
    purl = models.CharField(max_length=400)
    manifest = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["name", "version"]


class Sbom(models.Model):
    scan = models.OneToOneField(Scan, on_delete=models.CASCADE, related_name="sbom")
    spec_version = models.CharField(max_length=10)
    source = models.CharField(max_length=1000, help_text="Where the packages came from.")
    document = models.TextField(help_text="The CycloneDX JSON, validated when made.")
    created_at = models.DateTimeField(auto_now_add=True)


class FindingQuerySet(models.QuerySet):
    def blocking(self, now: Any = None) -> FindingQuerySet:
        """Open or confirmed, or accepted with an acceptance that has run out."""
        now = now or timezone.now()
        expired = models.Q(state=Finding.ACCEPTED_RISK, accepted_until__lte=now)
        return self.filter(models.Q(state__in=Finding.ACTIVE) | expired)

    def at_least(self, severity: str) -> FindingQuerySet:
        return self.filter(severity_rank__gte=sev.rank(severity))


class Finding(models.Model):
    OPEN, CONFIRMED, FALSE_POSITIVE, ACCEPTED_RISK, FIXED = (
        "open",
        "confirmed",
        "false_positive",
        "accepted_risk",
        "fixed",
    )
    STATES = [(s, s.replace("_", " ")) for s in (OPEN, CONFIRMED, FALSE_POSITIVE, ACCEPTED_RISK, FIXED)]
    ACTIVE = (OPEN, CONFIRMED)  # what a gate blocks on
    TRIAGED_AWAY = (FALSE_POSITIVE, ACCEPTED_RISK)  # decisions a re-scan never undoes
    KINDS = [(k, k) for k in ("code", "secret", "dependency")]

    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="findings")
    workflow = models.ForeignKey(
        "workflows.Workflow", null=True, blank=True, on_delete=models.SET_NULL, related_name="findings"
    )
    fingerprint = models.CharField(max_length=64)
    fingerprint_fields = models.JSONField(default=dict, help_text="What the fingerprint hashes (why results merge).")
    tool = models.CharField(max_length=40)
    kind = models.CharField(max_length=12, choices=KINDS)
    rule_id = models.CharField(max_length=200)
    rule_name = models.CharField(max_length=300, blank=True)
    title = models.CharField(max_length=400)
    severity = models.CharField(max_length=8, choices=SEVERITY_CHOICES)
    severity_rank = models.PositiveSmallIntegerField(help_text="critical 4 ... info 0, for sorting and thresholds.")
    severity_source = models.CharField(max_length=300, blank=True)
    confidence = models.CharField(max_length=12, blank=True)
    message = models.TextField(blank=True)
    path = models.CharField(max_length=1000)
    line = models.PositiveIntegerField(default=0)
    help_text = models.TextField(blank=True)
    help_url = models.CharField(max_length=500, blank=True)
    cwe = models.CharField(max_length=40, blank=True)
    package = models.CharField(max_length=200, blank=True)
    version = models.CharField(max_length=100, blank=True)
    fixed_versions = models.JSONField(default=list, blank=True)
    aliases = models.JSONField(default=list, blank=True)
    secret_masked = models.CharField(max_length=100, blank=True, help_text="Never the secret: a masked form.")
    state = models.CharField(max_length=16, choices=STATES, default=OPEN)
    state_reason = models.TextField(blank=True)
    accepted_until = models.DateTimeField(null=True, blank=True)
    triaged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    triaged_at = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    first_scan = models.ForeignKey(Scan, null=True, on_delete=models.SET_NULL, related_name="+")
    last_scan = models.ForeignKey(Scan, null=True, on_delete=models.SET_NULL, related_name="+")
    occurrence_count = models.PositiveIntegerField(default=0)

    objects = FindingQuerySet.as_manager()

    class Meta:
        ordering = ["-severity_rank", "-id"]
        constraints = [models.UniqueConstraint(fields=["target", "fingerprint"], name="finding_per_target")]
        indexes = [
            # Each sort order of the list has its index, so a page reads ~50 rows, never the table.
            models.Index(fields=["-severity_rank", "-id"], name="finding_severity"),
            models.Index(fields=["state", "-severity_rank", "-id"], name="finding_state_severity"),
            models.Index(fields=["-first_seen_at", "-id"], name="finding_first_seen"),
            models.Index(fields=["-last_seen_at", "-id"], name="finding_last_seen"),
            models.Index(fields=["path", "line", "id"], name="finding_path"),
            models.Index(fields=["tool", "-severity_rank", "-id"], name="finding_tool"),
            models.Index(fields=["rule_id"], name="finding_rule"),
            models.Index(fields=["workflow", "state", "-severity_rank"], name="finding_workflow"),
            models.Index(fields=["target", "state", "tool"], name="finding_target_state"),
        ]
        permissions = [("triage_finding", "Can triage findings (confirm, false positive, accept risk)")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("finding-detail", args=[self.pk])

    @property
    def acceptance_expired(self) -> bool:
        return (
            self.state == self.ACCEPTED_RISK
            and self.accepted_until is not None
            and self.accepted_until <= timezone.now()
        )

    @property
    def is_blocking(self) -> bool:
        return self.state in self.ACTIVE or self.acceptance_expired

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


class Occurrence(models.Model):
    """One scan seeing one finding: where, and what the tool said (its raw result, secrets masked)."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="occurrences")
    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="occurrences")
    path = models.CharField(max_length=1000)
    line = models.PositiveIntegerField(default=0)
    column = models.PositiveIntegerField(default=0)
    end_line = models.PositiveIntegerField(default=0)
    end_column = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    snippet = models.TextField(blank=True)
    snippet_start = models.PositiveIntegerField(default=0)
    raw = models.JSONField(default=dict)
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-scan_id"]
        constraints = [models.UniqueConstraint(fields=["finding", "scan"], name="occurrence_per_scan")]
        indexes = [models.Index(fields=["scan", "finding"], name="occurrence_scan")]


class FindingEvent(models.Model):
    """The history of a finding: every state change, by whom (or by which scan), when, and why."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    scan = models.ForeignKey(Scan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    from_state = models.CharField(max_length=16, blank=True)
    to_state = models.CharField(max_length=16)
    comment = models.TextField(blank=True)
    accepted_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]

    @property
    def who(self) -> str:
        if self.user is not None:
            return self.user.get_username()
        return f"scan #{self.scan_id}" if self.scan_id else "system"


class GateCheck(models.Model):
    """A run's security gate: what it scanned and why it blocked (the findings, each linked)."""

    PENDING, RUNNING, PASSED, BLOCKED, ERROR = "pending", "running", "passed", "blocked", "error"
    STATUSES = [(s, s) for s in (PENDING, RUNNING, PASSED, BLOCKED, ERROR)]

    run = models.OneToOneField("workflows.Run", on_delete=models.CASCADE, related_name="gate_check")
    status = models.CharField(max_length=8, choices=STATUSES, default=PENDING)
    message = models.TextField(blank=True)
    scan = models.ForeignKey(Scan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    gates = models.JSONField(default=dict, help_text="Per gate: threshold, findings seen, blocking count.")
    blocking = models.JSONField(default=list, help_text="The findings that blocked the run.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def as_event(self) -> dict[str, Any]:
        return {
            "status": self.status, "message": self.message, "scan": self.scan_id, "gates": self.gates,
            "blocking": self.blocking, "scan_url": reverse("scan-detail", args=[self.scan_id]) if self.scan_id else "",
        }  # fmt: skip


class Advisory(models.Model):
    """An OSV advisory imported by `manage.py osv_import` (the record kept whole, as JSON)."""

    osv_id = models.CharField(max_length=100, unique=True)
    modified = models.CharField(max_length=40, blank=True)
    withdrawn = models.BooleanField(default=False)
    summary = models.TextField(blank=True)
    record = models.JSONField()
    imported_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["osv_id"]

    def __str__(self) -> str:
        return self.osv_id


class AdvisoryPackage(models.Model):
    """Which packages an advisory affects (canonical PyPI names), to find advisories by package."""

    advisory = models.ForeignKey(Advisory, on_delete=models.CASCADE, related_name="packages")
    name = models.CharField(max_length=200, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["advisory", "name"], name="advisory_package")]
