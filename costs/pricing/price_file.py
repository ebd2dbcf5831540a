"""An admin's own prices: a CSV or JSON file read into catalogue rows, every bad row named."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .catalogue import KINDS, PROVIDERS, PriceRow, age_days
from .shapes import normalise

IMPORT_COLUMNS = ("provider", "region", "sku", "kind", "unit", "price", "vcpu", "memory_gib", "as_of", "source")


class PriceFileError(ValueError):
    """A bad import file; the message names the row and the field."""


def parse_price_file(text: str, filename: str = "") -> list[PriceRow]:
    """Rows from CSV (a header with IMPORT_COLUMNS) or JSON (a list of objects, or {"rows": [...]})."""
    stripped = text.lstrip()
    if filename.lower().endswith(".json") or stripped.startswith(("[", "{")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PriceFileError(f"not valid JSON: {exc.msg} at line {exc.lineno}") from None
        entries = data.get("rows") if isinstance(data, dict) else data
        if not isinstance(entries, list):
            raise PriceFileError('JSON must be a list of price rows, or {"rows": [...]}')
        where = [f"row {i + 1}" for i in range(len(entries))]
    else:
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames:
            raise PriceFileError("the file is empty")
        missing = [c for c in ("provider", "region", "sku", "kind", "price") if c not in reader.fieldnames]
        if missing:
            raise PriceFileError(f"the CSV header lacks {', '.join(missing)} (columns: {', '.join(IMPORT_COLUMNS)})")
        entries = list(reader)
        where = [f"line {i + 2}" for i in range(len(entries))]
    if not entries:
        raise PriceFileError("the file holds no price rows")
    rows, errors = [], []
    for entry, place in zip(entries, where):
        try:
            rows.append(_import_row(entry))
        except PriceFileError as exc:
            errors.append(f"{place}: {exc}")
    if errors:
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise PriceFileError("; ".join(errors[:5]) + more)
    return rows


def _import_row(entry: Any) -> PriceRow:
    if not isinstance(entry, Mapping):
        raise PriceFileError("must be an object with provider, region, sku, kind and price")
    get = {k: ("" if entry.get(k) is None else str(entry.get(k)).strip()) for k in IMPORT_COLUMNS}
    provider = get["provider"].lower()
    if provider not in PROVIDERS:
        raise PriceFileError(f"provider: '{get['provider']}' is not one of {', '.join(PROVIDERS)}")
    kind = get["kind"] or "instance"
    if kind not in KINDS:
        raise PriceFileError(f"kind: '{kind}' is not one of {', '.join(KINDS)}")
    unit = get["unit"] or KINDS[kind]
    if unit != KINDS[kind]:
        raise PriceFileError(f"unit: a {kind} price is per {KINDS[kind]}, not per '{unit}'")
    if not get["region"] or not get["sku"]:
        raise PriceFileError("region and sku are required (region '*' means every region)")
    price = _number(get["price"], "price")
    if price is None or price <= 0:
        raise PriceFileError("price: must be a number above 0 (leave the row out instead of a zero)")
    as_of = get["as_of"] or datetime.now(UTC).date().isoformat()
    if age_days(as_of) is None:
        raise PriceFileError(f"as_of: '{as_of}' is not a date (YYYY-MM-DD)")
    return PriceRow(
        provider, get["region"], normalise(provider, get["sku"]) if kind == "instance" else get["sku"], kind,
        price, get["source"] or "imported", as_of[:10], unit=unit,
        vcpu=_number(get["vcpu"], "vcpu"), memory_gib=_number(get["memory_gib"], "memory_gib"),
    )  # fmt: skip


def _number(text: str, name: str) -> float | None:
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise PriceFileError(f"{name}: '{text[:30]}' is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise PriceFileError(f"{name}: must be a positive number")
    return value
