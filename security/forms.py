"""The secret provider form: common fields, then each kind's own fields built from its `Field`
descriptions (security/providers), shown for the chosen kind only.

A credential is never rendered back: its input is always empty, and left empty it keeps what is
stored ("leave blank to keep"); an optional one can be cleared with its checkbox. The provider
kind's own checks (ProviderConfigError) come back as errors on the fields they name.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms

from .models import SecretProvider
from .providers import PROVIDER_KINDS, provider_class
from .providers.base import PROVIDER_NAME, Field, ProviderConfigError
from .providers.resolve import Scope


def field_name(kind: str, name: str) -> str:
    return f"{kind}__{name}"


def clear_name(kind: str, name: str) -> str:
    return f"{kind}__{name}__clear"


class ProviderForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="References start with it: name:path#key@version. Letters, digits, _ . -"
    )
    kind = forms.ChoiceField(choices=SecretProvider.KINDS, initial="vault")
    description = forms.CharField(max_length=300, required=False)
    scope_workflows = forms.CharField(
        required=False, label="Workflows that may use it",
        widget=forms.Textarea(attrs={"rows": 3, "class": "short", "placeholder": "etl_*\nnightly-report"}),
        help_text="Workflow names, one per line or comma-separated; * and ? match any text. Empty: none.",
    )  # fmt: skip
    scope_tags = forms.CharField(
        required=False, label="…or workflows with these tags",
        widget=forms.Textarea(attrs={"rows": 2, "class": "short", "placeholder": "env=prod\nteam"}),
        help_text="key=value (value patterns allowed) or a bare key for any value. Tags are written in the "
        "workflow file: they separate workflows edited by different people, not an operator from a "
        "workflow they may edit.",
    )  # fmt: skip

    def __init__(self, *args: Any, instance: SecretProvider | None = None, **kwargs: Any):
        self.instance = instance or SecretProvider()
        stored = self.instance.pk is not None
        if stored and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": self.instance.name, "kind": self.instance.kind, "description": self.instance.description,
                "scope_workflows": "\n".join(self.instance.scope_workflows),
                "scope_tags": "\n".join(self.instance.scope_tags),
            }  # fmt: skip
        super().__init__(*args, **kwargs)
        self.kind_fields: dict[str, list[tuple[Field, forms.BoundField, forms.BoundField | None, bool]]] = {}
        for kind in PROVIDER_KINDS:
            for spec in provider_class(kind).fields:
                is_stored = stored and kind == self.instance.kind
                self.fields[field_name(kind, spec.name)] = self._field(kind, spec, is_stored)
                if spec.secret and not spec.required and is_stored and spec.name in self.instance.credential_fields:
                    self.fields[clear_name(kind, spec.name)] = forms.BooleanField(
                        required=False, label=f"Remove the stored {spec.label.lower()}"
                    )
        for kind in PROVIDER_KINDS:
            rows = []
            for spec in provider_class(kind).fields:
                clear = clear_name(kind, spec.name)
                is_set = (
                    spec.secret
                    and stored
                    and kind == self.instance.kind
                    and spec.name in self.instance.credential_fields
                )
                bound = self[field_name(kind, spec.name)]
                rows.append((spec, bound, self[clear] if clear in self.fields else None, is_set))
            self.kind_fields[kind] = rows

    def _field(self, kind: str, spec: Field, stored: bool) -> forms.Field:
        options = self.instance.options if stored else {}
        initial = options.get(spec.name, spec.default)
        attrs = {"data-kind": kind, "data-field": spec.name}
        if spec.when:
            attrs["data-when"] = json.dumps({k: list(v) for k, v in spec.when.items()})
        if spec.required:
            attrs["data-required"] = "1"
        common = {"label": spec.label, "help_text": spec.help, "required": False}
        if spec.secret:
            is_set = stored and spec.name in self.instance.credential_fields
            attrs.update(
                autocomplete="new-password",  # keep the browser from filling in the admin's own password
                placeholder="stored: leave blank to keep" if is_set else "",
            )
            if is_set:
                attrs["data-stored"] = "1"
            return forms.CharField(widget=forms.PasswordInput(attrs=attrs, render_value=False), strip=False, **common)
        if spec.type == "choice":
            return forms.ChoiceField(choices=spec.choices, initial=initial, widget=forms.Select(attrs=attrs), **common)
        if spec.type == "bool":
            return forms.BooleanField(initial=bool(initial), widget=forms.CheckboxInput(attrs=attrs), **common)
        if spec.type == "int":
            return forms.IntegerField(initial=initial, widget=forms.NumberInput(attrs=attrs), **common)
        if spec.type == "pem":
            attrs.update(rows="4", placeholder="-----BEGIN CERTIFICATE-----")
            attrs["class"] = "short mono"
            return forms.CharField(initial=initial or "", widget=forms.Textarea(attrs=attrs), **common)
        return forms.CharField(initial=initial or "", widget=forms.TextInput(attrs=attrs), **common)

    # ---------------------------------------------------------------- checking

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not PROVIDER_NAME.fullmatch(name):
            raise forms.ValidationError(
                "may only contain letters, digits, '_', '.' and '-' (and start with one of the first two)"
            )
        taken = SecretProvider.objects.filter(name=name).exclude(pk=self.instance.pk).exists()
        if taken:
            raise forms.ValidationError(f"a secret provider named {name!r} exists already")
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("kind")
        if kind not in PROVIDER_KINDS:
            return data
        try:
            data["scope"] = Scope.parse(data.get("scope_workflows", ""), data.get("scope_tags", ""))
        except ValueError as exc:
            self.add_error("scope_tags", str(exc))
        values = {spec.name: data.get(field_name(kind, spec.name)) for spec in provider_class(kind).fields}
        clear = [spec.name for spec in provider_class(kind).fields if data.get(clear_name(kind, spec.name))]
        data["config"] = self.instance.candidate_config(kind, values, clear)
        try:
            provider_class(kind).clean_config(data["config"], provider=data.get("name") or "provider")
        except ProviderConfigError as exc:
            for name, message in exc.errors.items():
                target = field_name(kind, name) if field_name(kind, name) in self.fields else None
                if name == "name":
                    target = "name"
                self.add_error(target, f"{message}" if target else f"{name}: {message}")
        return data

    def save(self, user: Any) -> SecretProvider:
        data = self.cleaned_data
        self.changed = self.instance.save_config(
            name=data["name"], kind=data["kind"], config=data["config"], scope=data["scope"],
            description=data.get("description", ""), user=user,
        )  # fmt: skip
        return self.instance

    def candidate(self) -> tuple[str, str, dict[str, Any]]:
        """(kind, name, config) of a valid form: what "Test connection" tries, unsaved."""
        data = self.cleaned_data
        return data["kind"], data.get("name") or "provider", data["config"]


class SecretWriteForm(forms.Form):
    """An admin writes a new version of a secret: the value is never rendered back."""

    path = forms.CharField(max_length=1000, help_text="Where in the store, e.g. database/prod.")
    key = forms.CharField(
        max_length=300, required=False,
        help_text="Stored as {key: value} (what #key reads); blank: the value as it is (Vault: under `value`).",
    )  # fmt: skip
    value = forms.CharField(widget=forms.PasswordInput(render_value=False), strip=False, max_length=65536)

    def clean_path(self) -> str:
        path = self.cleaned_data["path"].strip().strip("/")
        if not path or "#" in path or "@" in path:
            raise forms.ValidationError("a path, without #key or @version")
        return path
