"""Storing cost records with their running totals, and the roll-ups the pages and the API read.

Every roll-up is one aggregate query (SUM ... GROUP BY) in the database; by workflow, tag and day
they read `CostDay`, which each stored record adds to in the same transaction.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.fields.json import KT
from django.utils import timezone

from workflows.batchsql import Dumped, HotSql

from .models import CostDay, CostRecord, RunCost

TAG_KEY_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


def tags_key(tags: dict[str, Any]) -> str:
    return json.dumps(tags or {}, sort_keys=True, separators=(",", ":"))[:500]


def store_record(fields: dict[str, Any]) -> CostRecord:
    """Insert one record and add it to its run's and its day's totals (call inside a transaction)."""
    record = CostRecord.objects.create(**fields)
    _add_to_totals([{**fields, "day": record.day, "tags": record.tags}])
    return record


def store_records(rows: list[dict[str, Any]]) -> None:
    """Insert records in one statement and add them to the run and day totals with one upsert each
    (the recorder's writer calls this once per batch: per-record ORM round trips would slow runs).
    Rows carry every field, keyed by attname (`run_id`), as the run extension builds them."""
    if not rows:
        return
    with connection.cursor() as cursor:
        HotSql(connection).insert_rows(cursor, CostRecord, rows)
    _add_to_totals(rows)


def _add_to_totals(rows: list[dict[str, Any]]) -> None:
    runs: dict[int, list] = {}
    days: dict[tuple, list] = {}
    keys: dict[int, str] = {}  # by the tags object: a run's records share one (a Dumped)
    for row in rows:
        amount = row["amount"]
        delta = (amount, amount if row.get("is_retry") else 0.0, 1, int(row.get("status") != CostRecord.PRICED))
        _add(runs.setdefault(row["run_id"], [row["workflow_id"], 0.0, 0.0, 0, 0]), delta)
        tags = row["tags"]
        key_text = keys.get(id(tags))
        if key_text is None:
            key_text = keys[id(tags)] = tags_key(tags.value if type(tags) is Dumped else tags)
        _add(days.setdefault((row["workflow_id"], row["day"], key_text), [tags, 0.0, 0.0, 0, 0]), delta)
    with connection.cursor() as cursor:
        now = timezone.now()
        _upsert(cursor, RunCost, ("run_id",), ("workflow_id", "target", "final", "updated_at"),
                [(run_id, workflow_id, {}, False, now, *sums) for run_id, (workflow_id, *sums) in runs.items()])  # fmt: skip
        _upsert(cursor, CostDay, ("workflow_id", "day", "tags_key"), ("tags",),
                [(*key, tags, *sums) for key, (tags, *sums) in days.items()])  # fmt: skip


def _add(totals: list, delta: tuple) -> None:
    for index, value in enumerate(delta, start=1):
        totals[index] += value


SUMS = ("total", "retries", "records", "unpriced")


def _upsert(cursor: Any, model: Any, keys: tuple[str, ...], extra: tuple[str, ...], rows: list[tuple]) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET total = total + excluded.total, ... (SQLite and PostgreSQL)."""
    HotSql(connection).upsert_add(cursor, model, keys, extra, SUMS, rows)


def rebuild_days() -> int:
    """Recompute CostDay from the records (a repair, and how the benchmark seeds a million records)."""
    with transaction.atomic():
        CostDay.objects.all().delete()
        rows = (
            CostRecord.objects.values("workflow_id", "day", "tags")
            .annotate(
                total=Sum("amount"),
                retries=Sum("amount", filter=Q(is_retry=True), default=0.0),
                records=Count("id"),
                unpriced=Count("id", filter=~Q(status=CostRecord.PRICED)),
            )
            .order_by()
        )
        days = [CostDay(tags_key=tags_key(r["tags"]), **r) for r in rows.iterator(chunk_size=5000)]
        CostDay.objects.bulk_create(days, batch_size=2000)
    return len(days)


# ------------------------------------------------------------------ roll-ups


def _days(queryset: QuerySet, since: date | None, until: date | None) -> QuerySet:
    if since is not None:
        queryset = queryset.filter(day__gte=since)
    if until is not None:
        queryset = queryset.filter(day__lte=until)
    return queryset


TOTALS = {"total": Sum("total"), "retries": Sum("retries"), "records": Sum("records"), "unpriced": Sum("unpriced")}


def by_workflow(since: date | None = None, until: date | None = None) -> list[dict[str, Any]]:
    rows = _days(CostDay.objects.all(), since, until).values("workflow_id", key=F("workflow__name"))
    return list(rows.annotate(**TOTALS).order_by("-total", "key"))


def by_day(since: date | None = None, until: date | None = None, workflow: int | None = None) -> list[dict[str, Any]]:
    rows = _days(CostDay.objects.all(), since, until)
    if workflow is not None:
        rows = rows.filter(workflow_id=workflow)
    return list(rows.values(key=F("day")).annotate(**TOTALS).order_by("key"))


def by_workflow_and_day(since: date | None = None, until: date | None = None) -> list[dict[str, Any]]:
    rows = _days(CostDay.objects.all(), since, until).values("workflow_id", "day")
    return list(rows.annotate(**TOTALS).order_by("day", "workflow_id"))


def by_tag(key: str, since: date | None = None, until: date | None = None) -> list[dict[str, Any]]:
    if not TAG_KEY_RE.match(key) or "__" in key:
        raise ValueError(f"'{key[:40]}' is not a tag name (letters, digits, . _ -)")
    rows = _days(CostDay.objects.all(), since, until).annotate(key=KT(f"tags__{key}"))
    return list(rows.values("key").annotate(**TOTALS).order_by("-total"))


def tag_names() -> list[str]:
    """Tag names seen on costed workflows (a handful of small JSON objects)."""
    names: set[str] = set()
    for tags in CostDay.objects.values_list("tags", flat=True).distinct()[:500]:
        names.update(k for k in (tags or {}) if TAG_KEY_RE.match(k) and "__" not in k)
    return sorted(names)


def by_run(workflow: int, limit: int = 30) -> list[dict[str, Any]]:
    rows = (
        RunCost.objects.filter(workflow_id=workflow)
        .order_by("-run_id")
        .values("run_id", "total", "retries", "records", "unpriced", "final", number=F("run__number"))[:limit]
    )
    return list(reversed(rows))


def top_tasks(since: date | None = None, until: date | None = None, limit: int = 15) -> list[dict[str, Any]]:
    rows = _days(CostRecord.objects.all(), since, until).values(
        "task_id", workflow_name=F("workflow__name"), workflow_ref=F("workflow_id")
    )
    rows = rows.annotate(
        total=Sum("amount"),
        attempts=Count("id"),
        retries=Sum("amount", filter=Q(is_retry=True), default=0.0),
        unpriced=Count("id", filter=~Q(status=CostRecord.PRICED)),
        runs=Count("run_id", distinct=True),
        retries_records=Count("id", filter=Q(is_retry=True)),
        retries_unpriced=Count("id", filter=Q(is_retry=True) & ~Q(status=CostRecord.PRICED)),
    )
    return list(rows.order_by("-total")[:limit])


def totals(since: date | None = None, until: date | None = None) -> dict[str, Any]:
    return _days(CostDay.objects.all(), since, until).aggregate(**TOTALS)


def unpriced_retries(since: date | None = None, until: date | None = None) -> int:
    """Retries with an unpriced part (the day totals count unpriced attempts, not which were retries)."""
    return _days(CostRecord.objects.filter(is_retry=True), since, until).exclude(status=CostRecord.PRICED).count()


def run_days(run_id: int) -> dict[date, float]:
    """A run's stored amounts by day."""
    rows = CostRecord.objects.filter(run_id=run_id).values("day").annotate(total=Sum("amount")).order_by()
    return {row["day"]: row["total"] or 0.0 for row in rows}


def run_nodes(run_id: int) -> dict[str, dict[str, Any]]:
    rows = (
        CostRecord.objects.filter(run_id=run_id)
        .values("node_id")
        .annotate(
            total=Sum("amount"),
            attempts=Count("id"),
            retries=Sum("amount", filter=Q(is_retry=True), default=0.0),
            unpriced=Count("id", filter=~Q(status=CostRecord.PRICED)),
        )
        .order_by()
    )
    result = {row.pop("node_id"): row for row in rows}
    if any(row["unpriced"] for row in result.values()):
        reasons = CostRecord.objects.filter(run_id=run_id).exclude(status=CostRecord.PRICED)
        for node_id, reason in reasons.values_list("node_id", "reason"):
            result[node_id].setdefault("reason", reason)
    return result
