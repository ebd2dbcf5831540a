"""Searching traces: by workflow, status, duration, sampling and span attribute.

One parser for the page and the API: bad values come back as messages naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from workflows.models import Run, Workflow

from .attempt_spans import sync_pending
from .models import Span, Trace

ATTRIBUTE_KEY = re.compile(r"^[A-Za-z0-9_.:/-]{1,200}$")
STATUSES = [code for code, _ in Run.STATUSES if code != Run.QUEUED]


@dataclass
class TraceSearch:
    workflow: str = ""
    status: str = ""
    min_duration: float | None = None
    max_duration: float | None = None
    attribute: tuple[str, str] | None = None
    sampled: bool | None = None
    run: int | None = None
    problems: list[str] = field(default_factory=list)
    raw: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, params: Mapping[str, Any]) -> TraceSearch:
        raw = {
            key: str(params.get(key, "")).strip()
            for key in ("workflow", "status", "min_duration", "max_duration", "attribute", "sampled", "run")
        }
        search = cls(raw={k: v for k, v in raw.items() if v})
        search.workflow = raw["workflow"]
        if raw["status"]:
            if raw["status"] in STATUSES:
                search.status = raw["status"]
            else:
                search.problems.append(f"status: unknown status '{raw['status'][:40]}' (one of: {', '.join(STATUSES)})")
        for key in ("min_duration", "max_duration"):
            if raw[key]:
                try:
                    value = float(raw[key])
                    if value < 0 or value != value:
                        raise ValueError
                    setattr(search, key, value)
                except ValueError:
                    search.problems.append(f"{key}: must be a number of seconds, not '{raw[key][:40]}'")
        if raw["attribute"]:
            key, sep, value = raw["attribute"].partition("=")
            key = key.strip()
            if not sep or not ATTRIBUTE_KEY.match(key):
                search.problems.append("attribute: write it as key=value, e.g. runner.task=extract")
            else:
                search.attribute = (key, value.strip())
        if raw["sampled"]:
            if raw["sampled"].lower() in ("true", "1", "yes", "kept"):
                search.sampled = True
            elif raw["sampled"].lower() in ("false", "0", "no", "dropped"):
                search.sampled = False
            else:
                search.problems.append("sampled: must be true or false")
        if raw["run"]:
            if raw["run"].isdigit() and len(raw["run"]) < 19:
                search.run = int(raw["run"])
            else:
                search.problems.append("run: must be a run id")
        return search

    def apply(self, traces: QuerySet[Trace]) -> QuerySet[Trace]:
        if self.workflow:
            if self.workflow.isdigit() and len(self.workflow) < 19:
                traces = traces.filter(run__workflow_id=int(self.workflow))
            else:
                pk = Workflow.objects.filter(name=self.workflow).values_list("pk", flat=True).first()
                traces = traces.filter(run__workflow_id=pk) if pk is not None else traces.none()
        if self.status:
            traces = traces.filter(status=self.status)
        if self.min_duration is not None:
            traces = traces.filter(duration_s__gte=self.min_duration)
        if self.max_duration is not None:
            traces = traces.filter(duration_s__lte=self.max_duration)
        if self.sampled is not None:
            traces = traces.filter(sampled=self.sampled)
        if self.run is not None:
            traces = traces.filter(run_id=self.run)
        if self.attribute is not None:
            sync_pending()  # attempt spans are stored when first read: these are read in SQL
            traces = traces.filter(Exists(spans_with_attribute(*self.attribute).filter(trace=OuterRef("pk"))))
        return traces


def spans_with_attribute(key: str, value: str) -> QuerySet[Span]:
    """Spans whose attribute `key` reads as `value` (numbers and booleans compare as their text)."""
    text = Cast(KeyTextTransform(key, "attributes"), output_field=TextField())
    return Span.objects.annotate(_attr=text).filter(_attr=value)
