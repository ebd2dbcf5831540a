"""The findings list's filters, sort orders and keyset pages, shared by the page and the API.

Every sort order ends in the primary key and has an index, so a page reads one page of rows
whatever the table's size; counts are bounded (1,000+), never a COUNT over everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from .models import Finding
from .scanners import severity as sev

PAGE_SIZE = 50
COUNT_LIMIT = 1000
# name -> ((field, descending), ...): the last field is always the primary key.
SORTS: dict[str, tuple[tuple[str, bool], ...]] = {
    "severity": (("severity_rank", True), ("id", True)),
    "newest": (("first_seen_at", True), ("id", True)),
    "last_seen": (("last_seen_at", True), ("id", True)),
    "path": (("path", False), ("line", False), ("id", False)),
}
STATE_GROUPS = {"active": Finding.ACTIVE, "triaged": Finding.TRIAGED_AWAY, "all": None}
FILTERS = ("tool", "severity", "state", "workflow", "path", "rule", "new_since", "target", "scan", "kind", "q")


class ListError(ValueError):
    pass


@dataclass
class Page:
    rows: list[Finding]
    next_cursor: str | None
    sort: str
    filters: dict[str, str] = field(default_factory=dict)


def _day(value: str) -> datetime:
    try:
        day = parse_date(value)
        moment = datetime.combine(day, time.min) if day else parse_datetime(value)
    except ValueError:
        moment = None
    if moment is None:
        raise ListError(f"'{value}' is not a date (use YYYY-MM-DD)")
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _int(name: str, value: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise ListError(f"{name} must be a number")
    return int(value)


def filtered(params: Mapping[str, str], base: QuerySet[Finding] | None = None) -> tuple[QuerySet[Finding], dict]:
    """The findings matching the filters in `params`; raises ListError on a bad value."""
    values = {k: str(params.get(k, "") or "").strip() for k in FILTERS}
    qs = base if base is not None else Finding.objects.all()
    if values["tool"]:
        qs = qs.filter(tool=values["tool"])
    if values["kind"]:
        qs = qs.filter(kind=values["kind"])
    if values["severity"]:
        if values["severity"] not in sev.RANK:
            raise ListError(f"severity must be one of {', '.join(sev.SEVERITIES)}")
        qs = qs.filter(severity_rank=sev.rank(values["severity"]))  # the indexed column
    state = values["state"] or "active"
    if state in STATE_GROUPS:
        if STATE_GROUPS[state] is not None:
            qs = qs.filter(state__in=STATE_GROUPS[state])
    elif state in {s for s, _ in Finding.STATES}:
        qs = qs.filter(state=state)
    else:
        raise ListError(f"unknown state '{state}'")
    values["state"] = state
    if values["workflow"]:
        if values["workflow"].isdigit():
            qs = qs.filter(workflow_id=_int("workflow", values["workflow"]))
        else:
            qs = qs.filter(workflow__name=values["workflow"])
    if values["path"]:
        qs = qs.filter(path__startswith=values["path"])
    if values["rule"]:
        qs = qs.filter(rule_id=values["rule"])
    if values["new_since"]:
        qs = qs.filter(first_seen_at__gte=_day(values["new_since"]))
    if values["target"]:
        qs = qs.filter(target_id=_int("target", values["target"]))
    if values["scan"]:
        qs = qs.filter(occurrences__scan_id=_int("scan", values["scan"]))
    if values["q"]:
        qs = qs.filter(Q(title__icontains=values["q"]) | Q(package__iexact=values["q"]))
    return qs, {k: v for k, v in values.items() if v}


def _decode(sort: str, cursor: str) -> list[Any]:
    parts = cursor.split("~")
    spec = SORTS[sort]
    if len(parts) != len(spec):
        raise ListError("bad page link")
    decoded: list[Any] = []
    for (name, _desc), text in zip(spec, parts):
        if name in ("id", "severity_rank", "line"):
            decoded.append(_int("page link", text))
        elif name.endswith("_at"):
            try:
                decoded.append(datetime.fromisoformat(text))
            except ValueError:
                raise ListError("bad page link") from None
        else:
            decoded.append(text)
    return decoded


def _encode(sort: str, row: Finding) -> str:
    values = []
    for name, _desc in SORTS[sort]:
        value = getattr(row, name)
        values.append(value.isoformat() if isinstance(value, datetime) else str(value))
    return "~".join(values)


def _after(sort: str, values: list[Any]) -> Q:
    """Rows after the cursor in this order: (a, b, id) > (va, vb, vid), spelt out for any database."""
    spec = SORTS[sort]
    condition = Q()
    for index, (name, desc) in enumerate(spec):
        step = Q(**{f"{name}__{'lt' if desc else 'gt'}": values[index]})
        for prior in range(index):
            step &= Q(**{spec[prior][0]: values[prior]})
        condition |= step
    return condition


def page(params: Mapping[str, str], base: QuerySet[Finding] | None = None, size: int = PAGE_SIZE) -> Page:
    qs, filters = filtered(params, base)
    sort = str(params.get("sort") or "severity")
    if sort not in SORTS:
        raise ListError(f"sort must be one of {', '.join(SORTS)}")
    cursor = str(params.get("after") or "")
    if cursor:
        qs = qs.filter(_after(sort, _decode(sort, cursor)))
    order = [f"-{name}" if desc else name for name, desc in SORTS[sort]]
    rows = list(qs.select_related("workflow").order_by(*order)[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, _encode(sort, rows[-1]) if more and rows else None, sort, filters)


def bounded_count(qs: QuerySet[Finding], limit: int = COUNT_LIMIT) -> tuple[int, bool]:
    """How many, up to `limit` (and whether there are more): reads at most limit+1 index entries."""
    n = qs.order_by().values("id")[: limit + 1].count()
    return min(n, limit), n > limit
