"""Forms: a workflow file (typed or uploaded) validated by the engine, and a run's parameters."""

from __future__ import annotations

from typing import Any

from django import forms

from .engine.loader import detect_format
from .engine.spec import SpecError, WorkflowInvalid, WorkflowSpec, parse_workflow
from .models import Workflow

MAX_UPLOAD = 1024 * 1024


class WorkflowForm(forms.Form):
    source = forms.CharField(
        widget=forms.Textarea(attrs={"spellcheck": "false", "rows": 24, "id": "source", "wrap": "off"}),
        required=False,
        # Kept as typed: stripping would shift an indented first line; CRLF (what browsers send
        # from a textarea) is normalised in clean() so re-saving an unchanged file adds no version.
        strip=False,
        help_text="YAML or JSON: name, tasks, and optionally max_parallel, params, env, tags, matrix, …",
    )
    upload = forms.FileField(required=False, help_text="Or upload a .yaml/.yml/.json file (it replaces the text).")
    base_dir = forms.CharField(
        required=False,
        max_length=1000,
        help_text="Directory the tasks run in. Empty: a workspace of its own under the data directory.",
    )

    def __init__(self, *args: Any, instance: Workflow | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.instance = instance
        self.spec: WorkflowSpec | None = None
        self.spec_errors: list[SpecError] = []
        self.format = "yaml"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        upload = data.get("upload")
        filename = None
        if upload:
            if upload.size > MAX_UPLOAD:
                raise forms.ValidationError("The file is larger than 1 MiB.")
            try:
                data["source"] = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                raise forms.ValidationError("The uploaded file is not UTF-8 text.") from None
            filename = upload.name
            # Show the uploaded text in the editor if it has errors.
            self.data = self.data.copy()
            self.data["source"] = data["source"]
        source = (data.get("source") or "").replace("\r\n", "\n")
        if not source.strip():
            raise forms.ValidationError("Give the workflow's text or upload a file.")
        self.format = detect_format(source, filename)
        try:
            self.spec = parse_workflow(source, filename or f"workflow.{self.format}")
        except WorkflowInvalid as exc:
            self.spec_errors = exc.errors
            raise forms.ValidationError(f"The workflow has {len(exc.errors)} error(s).") from None
        clash = Workflow.objects.filter(name=self.spec.name)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(f"A workflow named '{self.spec.name}' exists already.")
        data["source"] = source
        return data

    def listing(self) -> list[dict[str, Any]]:
        """The submitted text line by line, each with the errors that name it (for the page)."""
        source = self.data.get("source", "") if self.is_bound else ""
        by_line: dict[int, list[SpecError]] = {}
        for error in self.spec_errors:
            by_line.setdefault(error.line or 1, []).append(error)
        lines = source.split("\n") or [""]
        return [{"n": n, "text": text, "errors": by_line.get(n, [])} for n, text in enumerate(lines, 1)]


class TriggerForm(forms.Form):
    """One field per declared parameter, pre-filled with its default.

    Values keep the type of the declared default (or choice): a run triggered here must see
    the same params as one triggered over the API, where `false` is not the text "False"
    (which a `skip_if` would take for true).
    """

    def __init__(self, spec: WorkflowSpec, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for name, param in spec.params.items():
            label = name.replace("_", " ")
            help_text = param.description
            default = param.default
            initial = "" if default is None else str(default)
            common = {"required": param.required, "label": label, "help_text": help_text}
            if param.choices:
                by_text = {str(c): c for c in param.choices}
                self.fields[name] = forms.TypedChoiceField(
                    choices=[(t, t) for t in by_text], coerce=by_text.__getitem__, initial=initial, **common
                )
            elif isinstance(default, bool):
                common["required"] = False  # an unticked box is the value false
                self.fields[name] = forms.BooleanField(initial=default, **common)
            elif isinstance(default, int):
                self.fields[name] = forms.IntegerField(initial=default, **common)
            elif isinstance(default, float):
                self.fields[name] = forms.FloatField(initial=default, **common)
            else:
                self.fields[name] = forms.CharField(initial=initial, **common)
