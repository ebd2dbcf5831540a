"""The price catalogue: built from the data apache-libcloud ships, overlaid by an admin's own prices.

A catalogue is a stack of layers, the admin's imports first (newest on top), the built-in data
last; a lookup takes the first layer that has the row. Every row keeps where it came from and
the date its figure is from. A lookup that finds no usable price answers `Unpriced` with the
reason: never a silent zero (in libcloud's pricing.json 0.0 means "no price", not "free").
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from .shapes import Shape, azure_shape, ec2_shapes, gcp_types, normalise

PROVIDERS = ("aws", "azure", "gcp")
# kind -> the unit its price is per
KINDS = {
    "instance": "hour",
    "vcpu": "vcpu-hour",
    "memory": "gib-hour",
    "storage": "gb-month",
    "transfer": "gb",
    "serverless_compute": "gb-second",
    "serverless_requests": "million-requests",
}
STALE_DAYS = 365
LIBCLOUD_FILE = "libcloud/data/pricing.json"
GCP_PRICES_AS_OF = "2020-06-30"  # libcloud PR #1468: the last run of its GCE price scraper
SHAPES_AS_OF = "2025-03-01"
DATA_DIR = Path(__file__).resolve().parent  # rates.json lives beside this module


@dataclass(frozen=True)
class Source:
    """Where a set of rows comes from: what `build_price_catalogue` records for each."""

    name: str
    package: str
    version: str
    file: str
    sha256: str
    licence: str
    as_of: str
    note: str = ""


@dataclass(frozen=True)
class PriceRow:
    provider: str
    region: str
    sku: str
    kind: str
    price: float | None  # None: listed without a price
    source: str
    as_of: str
    unit: str = ""
    vcpu: float | None = None
    memory_gib: float | None = None
    note: str = ""
    layer: Any = None  # the catalogue version the row belongs to (set by the Django side)

    def __post_init__(self) -> None:
        if not self.unit:
            object.__setattr__(self, "unit", KINDS.get(self.kind, ""))


@dataclass(frozen=True)
class Unpriced:
    reason: str

    def __bool__(self) -> bool:
        return False


@dataclass(frozen=True)
class Cited:
    """A figure with where it came from."""

    source: str
    as_of: str
    layer: Any = None


@dataclass(frozen=True)
class InstanceQuote:
    provider: str
    region: str
    sku: str
    hourly: float
    vcpu: float | None
    memory_gib: float | None
    # The provider's own per-vCPU-hour and per-GiB-hour rates, where the catalogue has them (GCP).
    vcpu_hour: float | None = None
    gib_hour: float | None = None
    cited: tuple[Cited, ...] = ()


@dataclass(frozen=True)
class RateQuote:
    provider: str
    region: str
    kind: str
    sku: str
    price: float
    unit: str
    cited: Cited


@dataclass
class Built:
    rows: list[PriceRow]
    sources: list[Source]
    counts: dict[str, int] = field(default_factory=dict)


def is_price(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def age_days(as_of: str, today: date | None = None) -> int | None:
    try:
        day = date.fromisoformat(as_of[:10])
    except (TypeError, ValueError):
        return None
    return ((today or datetime.now(UTC).date()) - day).days


def is_stale(as_of: str, today: date | None = None) -> bool:
    days = age_days(as_of, today)
    return days is not None and days > STALE_DAYS


# ------------------------------------------------------------------ building from libcloud


def libcloud_pricing_path() -> Path:
    import libcloud

    return Path(libcloud.__file__).resolve().parent / "data" / "pricing.json"


def sha256_of(path: Path) -> str:
    stat = path.stat()
    return _sha256_cached(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _sha256_cached(path: str, _mtime_ns: int, _size: int) -> str:
    # Keyed by modification time and size: an upgraded package is hashed again, an unchanged one not.
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


@functools.lru_cache(maxsize=4)
def _build_cached(path: str, sha: str) -> Built:
    return _build(Path(path), sha)


def build_builtin(path: Path | None = None) -> Built:
    """The built-in catalogue from libcloud's pricing.json (cached per file content)."""
    path = path or libcloud_pricing_path()
    return _build_cached(str(path), sha256_of(path))


def _build(path: Path, sha: str) -> Built:
    data = json.loads(path.read_text())
    compute = data["compute"]
    updated = datetime.fromtimestamp(int(data["updated"]), tz=UTC).date().isoformat()
    version = _package_version("apache-libcloud")
    licence = "Apache-2.0"
    sources = [
        Source("libcloud-ec2", "apache-libcloud", version, f"{LIBCLOUD_FILE} (compute.ec2_linux)", sha, licence,
               updated, "EC2 on-demand Linux prices per type and region"),
        Source("libcloud-azure", "apache-libcloud", version, f"{LIBCLOUD_FILE} (compute.azure_linux)", sha, licence,
               updated, "Azure Linux VM prices per size and region"),
        Source("libcloud-gcp", "apache-libcloud", version, f"{LIBCLOUD_FILE} (compute.gce_instances)", sha, licence,
               GCP_PRICES_AS_OF, "GCP on-demand per-vCPU-hour and per-GB-hour rates per machine family; "
               "last scraped in 2020 (libcloud PR #1468), unlike the rest of the file"),
    ]  # fmt: skip
    shapes_file = Path(__file__).resolve().parent / "shapes.py"
    ec2_table = Path(_libcloud_module_file("libcloud.compute.constants.ec2_instance_types"))
    sources.append(
        Source("libcloud-ec2-shapes", "apache-libcloud", version, "libcloud/compute/constants/ec2_instance_types.py",
               sha256_of(ec2_table), licence, updated, "vCPU and memory per EC2 type"),
    )  # fmt: skip
    sources.append(
        Source("vendor-shapes", "script-runner", "", "costs/pricing/shapes.py", sha256_of(shapes_file), "MIT",
               SHAPES_AS_OF, "Azure and GCP vCPU/memory per size from the providers' size documentation"),
    )  # fmt: skip
    rows: list[PriceRow] = []
    shapes = ec2_shapes()
    for sku, regions in compute["ec2_linux"].items():
        shape = shapes.get(sku.lower())
        for region, price in regions.items():
            rows.append(_instance_row("aws", region, sku.lower(), price, shape, "libcloud-ec2", updated))
    for sku, regions in compute["azure_linux"].items():
        shape = azure_shape(sku)
        for region, price in regions.items():
            rows.append(_instance_row("azure", region, sku, price, shape, "libcloud-azure", updated))
    for family, parts in compute["gce_instances"].items():
        for part, kind in (("cpu", "vcpu"), ("ram", "memory")):
            for region, entry in (parts.get(part) or {}).get("on_demand", {}).items():
                price = entry.get("price") if isinstance(entry, dict) else entry
                rows.append(
                    PriceRow("gcp", region, family, kind, float(price) if is_price(price) else None, "libcloud-gcp",
                             GCP_PRICES_AS_OF, note="" if is_price(price) else "0.0 in pricing.json: no price")
                )  # fmt: skip
    extra = json.loads((DATA_DIR / "rates.json").read_text())
    sources.append(
        Source("vendor-rates", "script-runner", "", "costs/pricing/rates.json",
               sha256_of(DATA_DIR / "rates.json"), extra["licence"], extra["as_of"],
               "storage, data transfer and serverless list prices from the providers' pricing pages"),
    )  # fmt: skip
    for entry in extra["rows"]:
        rows.append(
            PriceRow(entry["provider"], entry["region"], entry["sku"], entry["kind"], float(entry["price"]),
                     "vendor-rates", extra["as_of"], unit=entry["unit"], note=entry["source"])
        )  # fmt: skip
    counts: dict[str, int] = {}
    for row in rows:
        key = f"{row.provider}.{row.kind}"
        counts[key] = counts.get(key, 0) + 1
        if row.price is None:
            counts[f"{key}.unpriced"] = counts.get(f"{key}.unpriced", 0) + 1
    return Built(rows, sources, counts)


def _libcloud_module_file(name: str) -> str:
    import importlib.util

    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin is not None
    return spec.origin


def _instance_row(provider: str, region: str, sku: str, price: Any, shape: Shape | None, source: str, as_of: str):
    priced = is_price(price)
    return PriceRow(
        provider, region, sku, "instance", float(price) if priced else None, source, as_of,
        vcpu=shape.vcpu if shape else None, memory_gib=shape.memory_gib if shape else None,
        note="" if priced else "0.0 in pricing.json: no price",
    )  # fmt: skip


def rows_to_json(rows: Iterable[PriceRow]) -> list[dict[str, Any]]:
    return [{k: v for k, v in asdict(row).items() if k != "layer"} for row in rows]


def rows_from_json(items: Iterable[Mapping[str, Any]], layer: Any = None) -> list[PriceRow]:
    return [PriceRow(**{**item, "layer": layer}) for item in items]


# ------------------------------------------------------------------ looking prices up

Key = tuple[str, str, str, str]  # provider, kind, sku, region


class Catalogue:
    """Lookups over layers (first wins): an admin's imports, newest first, then the built-in rows."""

    def __init__(self, layers: Iterable[Iterable[PriceRow]]):
        self.layers: list[dict[Key, PriceRow]] = []
        self.by_region: list[dict[tuple[str, str, str], PriceRow]] = []  # (provider, kind, region): first priced
        self.skus: dict[tuple[str, str], set[str]] = {}
        for rows in layers:
            table: dict[Key, PriceRow] = {}
            firsts: dict[tuple[str, str, str], PriceRow] = {}
            for row in rows:
                table[(row.provider, row.kind, row.sku, row.region)] = row
                self.skus.setdefault((row.provider, row.kind), set()).add(row.sku)
                if row.kind not in ("instance", "vcpu", "memory") and row.price is not None:
                    firsts.setdefault((row.provider, row.kind, row.region), row)
            self.layers.append(table)
            self.by_region.append(firsts)

    def row(self, provider: str, kind: str, sku: str, region: str) -> PriceRow | None:
        for table in self.layers:
            for key in ((provider, kind, sku, region), (provider, kind, sku, "*")):
                if key in table:
                    return table[key]
        return None

    def regions_with(self, provider: str, kind: str, sku: str) -> list[str]:
        regions = {r for t in self.layers for (p, k, s, r), row in t.items() if (p, k, s) == (provider, kind, sku)}
        return sorted(regions)

    def instance(self, provider: str, region: str, sku: str) -> InstanceQuote | Unpriced:
        provider = provider.lower()
        if provider not in PROVIDERS:
            return Unpriced(f"unknown provider '{provider}' (aws, azure or gcp)")
        key = normalise(provider, sku)
        row = self.row(provider, "instance", key, region)
        if row is None and provider == "gcp":
            return self._gcp_instance(region, key)
        if row is None:
            return Unpriced(self._missing(provider, region, key, sku))
        if row.price is None:
            return Unpriced(
                f"{provider} lists {sku} in {region} with 0.0 in {_source_name(row.source)}, which means no price "
                "(not free)"
            )
        shape = (row.vcpu, row.memory_gib)
        if shape == (None, None):  # an imported price without a shape: the built-in rows know it
            for table in self.layers:
                other = table.get((provider, "instance", key, region))
                if other is not None and other.vcpu:
                    shape = (other.vcpu, other.memory_gib)
                    break
        if provider == "gcp" and key in gcp_types() and shape == (None, None):
            shape = (gcp_types()[key][1].vcpu, gcp_types()[key][1].memory_gib)
        return InstanceQuote(provider, region, key, row.price, shape[0], shape[1], cited=(_cite(row),))

    def _missing(self, provider: str, region: str, key: str, sku: str) -> str:
        known = self.skus.get((provider, "instance"), set())
        if key in known:
            regions = self.regions_with(provider, "instance", key)
            sample = ", ".join(regions[:4])
            return f"{provider} has no price for {sku} in region '{region}' (it is priced in {len(regions)} regions: {sample}…)"
        hint = difflib.get_close_matches(key, sorted(known), n=1)
        return f"unknown {provider} instance type '{sku}'" + (f" (did you mean '{hint[0]}'?)" if hint else "")

    def _gcp_instance(self, region: str, key: str) -> InstanceQuote | Unpriced:
        types = gcp_types()
        if key not in types:
            hint = difflib.get_close_matches(key, sorted(types), n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else " (predefined types such as n2-standard-4)"
            return Unpriced(f"unknown gcp machine type '{key}'{suggestion}")
        family, shape = types[key]
        cpu = self.row("gcp", "vcpu", family, region)
        ram = self.row("gcp", "memory", family, region)
        for part, row in (("vCPU", cpu), ("memory", ram)):
            if row is None:
                return Unpriced(f"gcp has no {family} {part} price in region '{region}'")
            if row.price is None:
                return Unpriced(f"gcp lists the {family} {part} price in {region} as 0.0, which means no price")
        assert cpu is not None and ram is not None and cpu.price is not None and ram.price is not None
        hourly = shape.vcpu * cpu.price + shape.memory_gib * ram.price
        return InstanceQuote("gcp", region, key, hourly, shape.vcpu, shape.memory_gib, cpu.price, ram.price,
                             (_cite(cpu), _cite(ram)))  # fmt: skip

    def rate(self, provider: str, region: str, kind: str) -> RateQuote | Unpriced:
        """The first price of this kind for the provider in the region (or its '*' row)."""
        for firsts in self.by_region:
            for wanted in (region, "*"):
                row = firsts.get((provider, kind, wanted))
                if row is not None and row.price is not None:
                    return RateQuote(provider, region, kind, row.sku, row.price, row.unit, _cite(row))
        return Unpriced(f"the catalogue has no {provider} {kind.replace('_', ' ')} price for region '{region}'")

    def instances(self, provider: str, region: str) -> list[InstanceQuote]:
        """Every priced instance type of a provider in a region (for the what-if)."""
        quotes = []
        if provider == "gcp":
            keys: Iterable[str] = gcp_types()
        else:
            keys = sorted(self.skus.get((provider, "instance"), set()))
        for key in keys:
            if provider != "gcp" and self.row(provider, "instance", key, region) is None:
                continue  # not offered there: skip the (slow) explanation of why
            quote = self.instance(provider, region, key)
            if isinstance(quote, InstanceQuote) and quote.vcpu and quote.memory_gib:
                quotes.append(quote)
        return quotes


def _cite(row: PriceRow) -> Cited:
    return Cited(row.source, row.as_of, row.layer)


def _source_name(source: str) -> str:
    return "apache-libcloud's pricing.json" if source.startswith("libcloud") else source


def with_layer(rows: Iterable[PriceRow], layer: Any) -> list[PriceRow]:
    """Copies of the rows in another layer. Not dataclasses.replace, which re-runs __init__: ~8 µs
    a row, a quarter of a second for the built-in catalogue's 32,000 rows."""
    copies = []
    for row in rows:
        copy = object.__new__(PriceRow)
        fields = copy.__dict__
        fields.update(row.__dict__)
        fields["layer"] = layer
        copies.append(copy)
    return copies
