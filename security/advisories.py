"""The local OSV advisory store: `manage.py osv_import` fills it, scans match against it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from .models import Advisory, AdvisoryPackage
from .scanners import osv


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0


def import_advisories(path: Path, batch: int = 500) -> ImportResult:
    """Load a zip or folder of OSV records (JSON or YAML); a record replaces an older one with its id."""
    result = ImportResult()
    pending: list[osv.Advisory] = []
    for _name, record in osv.read_records(path):
        pending.append(osv.Advisory.from_record(record))
        if len(pending) >= batch:
            _store(pending, result)
            pending = []
    _store(pending, result)
    return result


def _store(advisories: list[osv.Advisory], result: ImportResult) -> None:
    if not advisories:
        return
    with transaction.atomic():
        existing = {a.osv_id: a for a in Advisory.objects.filter(osv_id__in=[a.id for a in advisories])}
        fresh, changed = [], []
        for advisory in advisories:
            row = existing.get(advisory.id)
            if advisory.withdrawn:
                result.withdrawn += 1
            if row is None:
                fresh.append(Advisory(osv_id=advisory.id, modified=advisory.modified, withdrawn=bool(advisory.withdrawn),
                                      summary=advisory.summary, record=advisory.raw))  # fmt: skip
            elif row.modified != advisory.modified or row.record != advisory.raw:
                row.modified, row.withdrawn, row.summary, row.record = (
                    advisory.modified, bool(advisory.withdrawn), advisory.summary, advisory.raw,
                )  # fmt: skip
                changed.append(row)
            else:
                result.unchanged += 1
        Advisory.objects.bulk_create(fresh)
        Advisory.objects.bulk_update(changed, ["modified", "withdrawn", "summary", "record"])
        result.created += len(fresh)
        result.updated += len(changed)
        touched = {a.osv_id for a in fresh} | {a.osv_id for a in changed}
        if touched:
            ids = dict(Advisory.objects.filter(osv_id__in=touched).values_list("osv_id", "id"))
            AdvisoryPackage.objects.filter(advisory_id__in=ids.values()).delete()
            AdvisoryPackage.objects.bulk_create(
                [
                    AdvisoryPackage(advisory_id=ids[a.id], name=name)
                    for a in advisories
                    if a.id in touched
                    for name in a.packages()
                ]  # fmt: skip
            )


class StoredAdvisories:
    """The store as the matcher's advisory source: fetch only the scanned packages' advisories."""

    def count(self) -> int:
        return Advisory.objects.filter(withdrawn=False).count()

    def advisories_for(self, packages: Iterable[str]) -> dict[str, list[osv.Advisory]]:
        names = sorted(set(packages))
        found: dict[str, list[osv.Advisory]] = {}
        for start in range(0, len(names), 500):
            rows = (
                AdvisoryPackage.objects.filter(name__in=names[start : start + 500], advisory__withdrawn=False)
                .select_related("advisory")
                .only("name", "advisory__record")
            )
            for row in rows:
                found.setdefault(row.name, []).append(osv.Advisory.from_record(row.advisory.record))
        return found
