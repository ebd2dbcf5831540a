"""Scans, findings (one model for code, secret and dependency findings) with triage history,
SBOM components, run gate results, and the local OSV advisory store; secret providers with
their audit log, and the lineage of the secrets runs read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from . import crypto
from .providers import PROVIDER_KINDS, build_provider, provider_class
from .providers.base import PROVIDER_NAME, Provider
from .providers.resolve import Scope
from .scanners import severity as sev

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


# ---------------------------------------------------------------------- secret providers (issue 7)


class SecretProvider(models.Model):
    """A secret store that workflows name in `secrets:` references (`name:path#key@version`).

    Its options (the kind's settings that are not secret) are plain JSON; its credentials (the
    kind's secret fields) are one Fernet token, decrypted only to talk to the store and never
    shown again. Its scope says which workflows (name patterns) or tags may use it. Change it
    through `save_config`, which keeps the audit log.
    """

    KINDS = [(kind, label) for kind, (_module, _cls, label) in PROVIDER_KINDS.items()]

    name = models.CharField(
        max_length=100, unique=True, validators=[RegexValidator(f"^{PROVIDER_NAME.pattern}$")],
        help_text="What references start with: name:path#key.",
    )  # fmt: skip
    kind = models.CharField(max_length=10, choices=KINDS)
    description = models.CharField(max_length=300, blank=True)
    options = models.JSONField(default=dict, blank=True, help_text="The kind's settings that are not secret.")
    credentials = models.TextField(blank=True, help_text="Fernet token of the secret fields (never shown).")
    credential_fields = models.JSONField(default=list, blank=True, help_text="Which secret fields are set (names).")
    scope_workflows = models.JSONField(default=list, blank=True, help_text="Workflow name patterns that may use it.")
    scope_tags = models.JSONField(default=list, blank=True, help_text="Tags (key or key=value) that may use it.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [("use_secretprovider", "Can reference secret providers and see their scope and lineage")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("provider-detail", args=[self.pk])

    # -- what it is

    @property
    def provider_cls(self) -> type[Provider]:
        return provider_class(self.kind)

    @property
    def kind_label(self) -> str:
        return dict(self.KINDS).get(self.kind, self.kind)

    @property
    def scope(self) -> Scope:
        return Scope.from_dict({"workflows": self.scope_workflows, "tags": self.scope_tags})

    def config(self) -> dict[str, Any]:
        """Options and decrypted credentials: what build_provider takes (keep it in memory only)."""
        return {**self.options, **crypto.decrypt(self.credentials)}

    def build(self) -> Provider:
        return build_provider(self.kind, self.name, self.config())

    def shown_settings(self) -> list[tuple[str, str]]:
        """(label, value) of the settings that apply, for the provider's page: never a credential."""
        shown = []
        for spec in self.provider_cls.fields:
            if spec.secret or not spec.applies(self.options):
                continue
            value = self.options.get(spec.name)
            if spec.type == "pem":
                value = "set" if value else ""
            elif spec.type == "choice":
                value = dict(spec.choices).get(value, value)
            elif spec.type == "bool":
                value = "yes" if value else "no"
            if value not in (None, ""):
                shown.append((spec.label, str(value)))
        return shown

    @property
    def stored_credential_labels(self) -> list[str]:
        labels = {spec.name: spec.label for spec in self.provider_cls.fields}
        return [labels.get(name, name) for name in self.credential_fields]

    def referencing_workflows(self) -> list[Any]:
        """Workflows whose current version references this provider (parsed specs are cached)."""
        from workflows.models import Workflow

        prefix = f"{self.name}:"
        found = []
        for workflow in Workflow.objects.only("id", "name", "source", "format"):
            if prefix not in workflow.source:
                continue
            try:
                tasks = workflow.spec().tasks.values()
            except Exception:  # an unparsable stored source references nothing we can tell
                continue
            if any(ref.startswith(prefix) for task in tasks for ref in task.secrets.values()):
                found.append(workflow)
        return found

    # -- changing it

    def candidate_config(self, kind: str, values: Mapping[str, Any], clear: Iterable[str] = ()) -> dict[str, Any]:
        """The configuration a form's values give: a secret field left blank keeps what is stored
        (for the same kind), unless it is listed in `clear`."""
        cls = provider_class(kind)
        stored = crypto.decrypt(self.credentials) if self.pk and kind == self.kind else {}
        config: dict[str, Any] = {}
        for spec in cls.fields:
            raw = values.get(spec.name)
            if spec.secret and raw in (None, "") and spec.name not in set(clear):
                raw = stored.get(spec.name)
            if raw not in (None, ""):
                config[spec.name] = raw
        return config

    def save_config(
        self,
        *,
        name: str,
        kind: str,
        config: Mapping[str, Any],
        scope: Scope,
        description: str = "",
        user: Any = None,
    ) -> list[str]:
        """Check the configuration (ProviderConfigError per field), encrypt the credentials, save,
        and write the audit entry naming the fields that changed. Returns those field names."""
        cls = provider_class(kind)
        cleaned = cls.clean_config(config, provider=name)
        plain, secret = cls.split_config(cleaned)
        secret = {k: v for k, v in secret.items() if v not in (None, "")}
        creating = self.pk is None
        before = {} if creating else self._audit_view(crypto.decrypt(self.credentials))
        self.name, self.kind, self.description = name, kind, description
        self.options = plain
        self.credentials = crypto.encrypt(secret)
        self.credential_fields = sorted(secret)
        self.scope_workflows, self.scope_tags = list(scope.workflows), list(scope.tags)
        after = self._audit_view(secret)
        # Created: the fields it was given. Changed: the fields whose value differs.
        changed = sorted(
            key for key in set(before) | set(after)
            if before.get(key) != after.get(key) and not (creating and after.get(key) in ("", [], None))
        )  # fmt: skip
        if creating:
            self.created_by = user if user is not None and user.is_authenticated else None
        with transaction.atomic():
            self.save()
            if creating or changed:
                ProviderChange.record(
                    self, user, ProviderChange.CREATED if creating else ProviderChange.CHANGED, changed
                )
        return changed

    def _audit_view(self, secret: Mapping[str, Any]) -> dict[str, Any]:
        """Everything an admin can change, by field name; a credential compares by its value but is
        only ever named in the audit log."""
        view: dict[str, Any] = {
            "name": self.name, "kind": self.kind, "description": self.description,
            "scope_workflows": list(self.scope_workflows), "scope_tags": list(self.scope_tags),
        }  # fmt: skip
        view.update({f"options.{k}": v for k, v in self.options.items() if v not in (None, "")})
        view.update({f"credentials.{k}": v for k, v in secret.items()})
        return view

    def rotate_credentials(self) -> bool:
        """Re-encrypt the credentials with the newest key; False if they already were."""
        if crypto.encrypted_with_newest(self.credentials):
            return False
        with transaction.atomic():
            self.credentials = crypto.rotate(self.credentials)
            self.save(update_fields=["credentials"])
            ProviderChange.record(self, None, ProviderChange.ROTATED, ["credentials"])
        return True

    def delete_by(self, user: Any) -> None:
        with transaction.atomic():
            ProviderChange.record(self, user, ProviderChange.DELETED, [])
            self.delete()


class ProviderChange(models.Model):
    """The audit log of secret providers: who changed which fields when (never a value). Kept
    when the provider is deleted."""

    CREATED, CHANGED, DELETED, ROTATED, WROTE = "created", "changed", "deleted", "rotated", "wrote"
    ACTIONS = [(a, a) for a in (CREATED, CHANGED, DELETED, ROTATED, WROTE)]

    provider = models.ForeignKey(
        SecretProvider, null=True, blank=True, on_delete=models.SET_NULL, related_name="changes"
    )
    provider_name = models.CharField(max_length=100)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True, help_text="Kept if the user is deleted.")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=8, choices=ACTIONS)
    fields = models.JSONField(default=list, blank=True, help_text="Names of the fields that changed.")

    class Meta:
        ordering = ["-at", "-id"]

    @classmethod
    def record(cls, provider: SecretProvider, user: Any, action: str, fields: list[str]) -> ProviderChange:
        known = user is not None and getattr(user, "is_authenticated", False)
        return cls.objects.create(
            provider=provider if action != cls.DELETED else None, provider_name=provider.name,
            user=user if known else None, username=user.get_username() if known else "system",
            action=action, fields=fields,
        )  # fmt: skip

    @property
    def field_labels(self) -> list[str]:
        """The fields, as the form names them (options.url -> Address); a write's path#key as it is."""
        if self.action == self.WROTE:
            return list(self.fields)
        labels = {"name": "Name", "kind": "Kind", "description": "Description",
                  "scope_workflows": "Scope: workflows", "scope_tags": "Scope: tags"}  # fmt: skip
        kinds: dict[str, str] = {}
        for kind in PROVIDER_KINDS:
            for spec in provider_class(kind).fields:
                kinds.setdefault(spec.name, spec.label)
        out = []
        for name in self.fields:
            group, _, field = name.partition(".")
            out.append(labels.get(name) or kinds.get(field, field or group))
        return out


class SecretRead(models.Model):
    """Lineage: one secret an attempt read (provider, path, key, version asked for and read),
    never its value."""

    run = models.ForeignKey("workflows.Run", on_delete=models.CASCADE, related_name="secret_reads")
    taskrun = models.ForeignKey("workflows.TaskRun", on_delete=models.CASCADE, related_name="secret_reads")
    attempt = models.PositiveIntegerField()
    env = models.CharField(max_length=200, help_text="The environment variable it became.")
    provider = models.ForeignKey(SecretProvider, null=True, blank=True, on_delete=models.SET_NULL, related_name="reads")
    provider_name = models.CharField(max_length=100)
    path = models.CharField(max_length=1000)
    key = models.CharField(max_length=300, blank=True)
    requested_version = models.CharField(max_length=130, blank=True)
    version = models.CharField(max_length=130, blank=True, help_text="The version the store returned.")
    cached = models.BooleanField(default=False, help_text="Served from the run's cache, not the store.")
    read_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "taskrun", "attempt", "env"]
        indexes = [
            models.Index(fields=["provider", "-read_at"], name="secretread_provider"),
            models.Index(fields=["provider_name", "-read_at"], name="secretread_provider_name"),
        ]

    @property
    def reference(self) -> str:
        text = f"{self.provider_name}:{self.path}"
        if self.key:
            text += f"#{self.key}"
        if self.requested_version:
            text += f"@{self.requested_version}"
        return text

    def as_dict(self, node: str = "") -> dict[str, Any]:
        return {
            "node": node or self.taskrun.node_id, "attempt": self.attempt, "env": self.env,
            "provider": self.provider_name, "path": self.path, "key": self.key,
            "requested_version": self.requested_version, "version": self.version, "cached": self.cached,
            "read_at": self.read_at.isoformat(),
        }  # fmt: skip


class SecretNotice(models.Model):
    """What a run should say about its secrets: a value too short to mask (warning), or a secret
    that could not be read or a provider the workflow may not use (error)."""

    WARNING, ERROR = "warning", "error"
    LEVELS = [(WARNING, WARNING), (ERROR, ERROR)]

    run = models.ForeignKey("workflows.Run", on_delete=models.CASCADE, related_name="secret_notices")
    taskrun = models.ForeignKey(
        "workflows.TaskRun", null=True, blank=True, on_delete=models.CASCADE, related_name="secret_notices"
    )
    attempt = models.PositiveIntegerField(default=0)
    level = models.CharField(max_length=8, choices=LEVELS, default=WARNING)
    message = models.TextField()
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "id"]

    def as_dict(self, node: str = "") -> dict[str, Any]:
        return {"node": node or (self.taskrun.node_id if self.taskrun_id else ""), "attempt": self.attempt,
                "level": self.level, "message": self.message}  # fmt: skip
