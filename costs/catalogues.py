"""Catalogue versions in the database: build one from the installed apache-libcloud, import an
admin's file, and load the catalogue in use (imports over the built-in rows) for pricing."""

from __future__ import annotations

import functools
import hashlib
import logging
from typing import Any

from django.db import transaction
from django.db.models import Q

from .models import CatalogueVersion
from .pricing import catalogue as cat
from .pricing.price_file import parse_price_file

log = logging.getLogger("runner.costs")


def build_version(*, force: bool = False) -> tuple[CatalogueVersion, bool]:
    """A built version for the installed libcloud file: the existing one unless it changed (or force)."""
    built = cat.build_builtin()
    sha = built.sources[0].sha256
    latest = CatalogueVersion.objects.filter(kind=CatalogueVersion.BUILT).first()
    if latest is not None and latest.sha256 == sha and not force:
        return latest, False
    version = CatalogueVersion.objects.create(
        kind=CatalogueVersion.BUILT,
        label=f"apache-libcloud {built.sources[0].version} pricing.json",
        sha256=sha,
        sources=[s.__dict__ for s in built.sources],
        counts=built.counts,
    )
    return version, True


def ensure_catalogue(**_kwargs: Any) -> None:
    """post_migrate: a fresh install (or a libcloud upgrade) gets its built catalogue, offline."""
    try:
        build_version()
    except Exception:  # a missing table during a partial migrate; the next migrate builds it
        log.exception("could not build the price catalogue")


def import_prices(text: str, *, filename: str = "", label: str = "", user: Any = None) -> CatalogueVersion:
    """Store an admin's CSV/JSON prices as a new version that takes precedence; raises PriceFileError."""
    rows = parse_price_file(text, filename)
    counts: dict[str, int] = {}
    for row in rows:
        counts[f"{row.provider}.{row.kind}"] = counts.get(f"{row.provider}.{row.kind}", 0) + 1
    sha = hashlib.sha256(text.encode()).hexdigest()
    as_of = min(row.as_of for row in rows)
    source = {
        "name": "import", "package": "", "version": "", "file": filename or "(uploaded)", "sha256": sha,
        "licence": "the admin's own figures", "as_of": as_of,
        "note": f"{len(rows)} rows imported by {getattr(user, 'username', None) or 'the command line'}",
    }  # fmt: skip
    with transaction.atomic():
        return CatalogueVersion.objects.create(
            kind=CatalogueVersion.IMPORTED, label=label or f"import of {filename or 'prices'}", sha256=sha,
            sources=[source], counts=counts, rows=cat.rows_to_json(rows), created_by=user,
        )  # fmt: skip


def versions_in_use() -> list[CatalogueVersion]:
    """Active imports, newest first, then the built version that matches the installed file."""
    rows = CatalogueVersion.objects.filter(
        Q(kind=CatalogueVersion.IMPORTED, active=True) | Q(kind=CatalogueVersion.BUILT)
    ).defer("rows")  # one query, newest first: this runs at the start of every run
    versions = [v for v in rows if v.kind == CatalogueVersion.IMPORTED]
    built = next((v for v in rows if v.kind == CatalogueVersion.BUILT), None)
    if built is None or built.sha256 != cat.sha256_of(cat.libcloud_pricing_path()):
        built, _ = build_version()
    return versions + [built]


def current() -> tuple[cat.Catalogue, list[CatalogueVersion]]:
    versions = versions_in_use()
    return _load(tuple((v.pk, v.sha256) for v in versions)), versions


@functools.lru_cache(maxsize=4)
def _load(keys: tuple[tuple[int, str], ...]) -> cat.Catalogue:
    # Keyed by content too: a test database may reuse an id for different rows.
    versions = CatalogueVersion.objects.in_bulk([pk for pk, _sha in keys])
    layers = []
    for pk, _sha in keys:
        version = versions[pk]
        if version.kind == CatalogueVersion.IMPORTED:
            layers.append(cat.rows_from_json(version.rows, layer=pk))
        else:
            layers.append(cat.with_layer(cat.build_builtin().rows, pk))
    return cat.Catalogue(layers)


def stale_sources(versions: list[CatalogueVersion]) -> list[dict[str, Any]]:
    """Sources in use older than 12 months: what the pages warn about."""
    seen, stale = set(), []
    for version in versions:
        for source in version.stale_sources():
            key = (source.get("name"), source.get("as_of"), version.pk)
            if key not in seen:
                seen.add(key)
                stale.append({**source, "version": version.pk})
    return stale
