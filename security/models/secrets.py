"""Secret providers with their audit log, and the lineage (and notices) of the secrets runs read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from .. import crypto
from ..providers import PROVIDER_KINDS, build_provider, provider_class
from ..providers.base import PROVIDER_NAME, Provider, SecretRef
from ..providers.resolve import Scope


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
        return str(SecretRef(self.provider_name, self.path, self.key, self.requested_version))

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
