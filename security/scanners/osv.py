"""Match pinned packages against OSV advisories (PyPI ecosystem), merge aliases, rate severity.

Advisories come from a directory or zip in the layout of OSV's exports (one `<ID>.json` per
advisory, or the PyPA database's `vulns/<package>/<ID>.yaml`), from the dashboard's database
(see security.advisories), or from OSV's HTTP API when a network is there. Versions compare
with `packaging` (PEP 440), SEMVER ranges with SemVer 2.0 precedence.
"""

from __future__ import annotations

import functools
import json
import re
import urllib.request
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from . import cvss
from . import severity as sev
from .manifests import Pin

ECOSYSTEM = "PyPI"


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A safe loader (libyaml's when present) that keeps timestamps as the text OSV wrote."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _Loader.yaml_implicit_resolvers.items()
}


class AdvisoryError(ValueError):
    pass


# ------------------------------------------------------------------ versions


@functools.lru_cache(maxsize=100_000)
def pep440(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


_SEMVER = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


@functools.lru_cache(maxsize=100_000)
def semver_key(text: str) -> tuple | None:
    """SemVer 2.0 precedence: numbers, then a pre-release sorts before its release."""
    match = _SEMVER.match(text.strip())
    if not match:
        return None
    major, minor, patch, pre = match.groups()
    numbers = (int(major), int(minor or 0), int(patch or 0))
    if pre is None:
        return (*numbers, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (*numbers, 0, parts)


def _key(kind: str, text: str) -> Any:
    if text == "0":
        return None  # "introduced: 0" means from the very first version
    return semver_key(text) if kind == "SEMVER" else pep440(text)


def in_range(kind: str, events: list[dict[str, str]], version: str) -> bool:
    """OSV's evaluation: walk the events in version order; the last one at or below the version decides."""
    current = _key(kind, version)
    if current is None:
        return False
    ordered = []
    for event in events:
        for name, value in event.items():
            if name not in ("introduced", "fixed", "last_affected", "limit"):
                continue
            key = _key(kind, str(value))
            if key is None and str(value) != "0":
                continue  # a version we cannot order: skip the event rather than guess
            ordered.append((key, name))
    ordered.sort(key=lambda item: (item[0] is not None, item[0] if item[0] is not None else 0))
    affected = False
    for key, name in ordered:
        if name == "introduced":
            if key is None or current >= key:
                affected = True
        elif name in ("fixed", "limit"):
            if current >= key:
                affected = False
        elif name == "last_affected" and current > key:
            affected = False
    return affected


def affects(affected: dict[str, Any], version: str) -> bool:
    listed = affected.get("versions") or []
    if version in listed:
        return True
    parsed = pep440(version)
    if parsed is not None and any(pep440(str(v)) == parsed for v in listed):
        return True
    for rng in affected.get("ranges") or []:
        kind = rng.get("type")
        if kind in ("ECOSYSTEM", "SEMVER") and in_range(kind, rng.get("events") or [], version):
            return True
    return False


# ------------------------------------------------------------------ advisories


@dataclass
class Advisory:
    id: str
    aliases: list[str]
    summary: str
    details: str
    modified: str
    withdrawn: str
    severity: list[dict[str, Any]]
    database_specific: dict[str, Any]
    affected: list[dict[str, Any]]
    references: list[dict[str, Any]]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Advisory:
        if not isinstance(record, dict) or not record.get("id"):
            raise AdvisoryError("an OSV record needs an 'id'")
        return cls(
            id=str(record["id"]), aliases=[str(a) for a in record.get("aliases") or []],
            summary=str(record.get("summary") or ""), details=str(record.get("details") or ""),
            modified=str(record.get("modified") or ""), withdrawn=str(record.get("withdrawn") or ""),
            severity=list(record.get("severity") or []), database_specific=dict(record.get("database_specific") or {}),
            affected=list(record.get("affected") or []), references=list(record.get("references") or []), raw=record,
        )  # fmt: skip

    def packages(self) -> set[str]:
        return {
            canonicalize_name(a["package"]["name"])
            for a in self.affected
            if a.get("package", {}).get("ecosystem") == ECOSYSTEM and a.get("package", {}).get("name")
        }

    def affected_entries(self, package: str) -> list[dict[str, Any]]:
        return [
            a for a in self.affected
            if a.get("package", {}).get("ecosystem") == ECOSYSTEM
            and canonicalize_name(a.get("package", {}).get("name", "")) == package
        ]  # fmt: skip

    def fixed_versions(self, package: str) -> list[str]:
        fixed = []
        for entry in self.affected_entries(package):
            for rng in entry.get("ranges") or []:
                fixed += [str(e["fixed"]) for e in rng.get("events") or [] if "fixed" in e]
        return sorted(set(fixed), key=lambda v: (pep440(v) is None, pep440(v) or v))

    def rating(self, package: str = "") -> tuple[str, float | None, str, str]:
        """(severity, CVSS base score, vector, where the rating came from)."""
        for entry in self.severity:
            if entry.get("type") in ("CVSS_V3", "CVSS_V31", "CVSS_V30"):
                try:
                    score = cvss.base_score(str(entry.get("score", "")))
                except cvss.CvssError:
                    continue
                return sev.from_score(score.base_score), score.base_score, score.vector, "CVSS v3 base score"
        words = [self.database_specific.get("severity")]
        for entry in self.affected_entries(package) if package else self.affected:
            words += [(entry.get("ecosystem_specific") or {}).get("severity"),
                      (entry.get("database_specific") or {}).get("severity")]  # fmt: skip
        for word in words:
            if word:
                return sev.from_word(str(word)), None, "", f"the database's severity {word}"
        return sev.MEDIUM, None, "", "no severity in the advisory: rated medium"


def load_record(data: bytes, name: str) -> dict[str, Any]:
    try:
        if name.endswith((".yaml", ".yml")):
            return yaml.load(data, Loader=_Loader)  # noqa: S506 - a safe loader (C or Python)
        return json.loads(data)
    except (ValueError, yaml.YAMLError) as exc:
        kind = "YAML" if name.endswith((".yaml", ".yml")) else "JSON"
        raise AdvisoryError(f"{name}: not valid {kind}: {exc}") from None


def read_records(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, record) for every advisory in a zip, a folder (recursively) or one file."""
    suffixes = (".json", ".yaml", ".yml")
    if path.is_dir():
        for file in sorted(path.rglob("*")):
            if file.suffix in suffixes and file.is_file():
                yield str(file.relative_to(path)), load_record(file.read_bytes(), file.name)
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.filename.endswith(suffixes) and not info.is_dir():
                    yield info.filename, load_record(archive.read(info), info.filename)
    elif path.is_file():
        yield path.name, load_record(path.read_bytes(), path.name)
    else:
        raise AdvisoryError(f"{path}: no such file or folder")


class AdvisorySource(Protocol):
    def advisories_for(self, packages: Iterable[str]) -> dict[str, list[Advisory]]:
        """Advisories (not withdrawn) per canonical package name."""
        ...


class AdvisoryIndex:
    """Advisories in memory, indexed by canonical package name."""

    def __init__(self, advisories: Iterable[Advisory] = ()):
        self.by_package: dict[str, list[Advisory]] = {}
        self.count = 0
        for advisory in advisories:
            self.add(advisory)

    def add(self, advisory: Advisory) -> None:
        if advisory.withdrawn:
            return
        self.count += 1
        for package in advisory.packages():
            self.by_package.setdefault(package, []).append(advisory)

    @classmethod
    def load(cls, path: Path) -> AdvisoryIndex:
        return cls(Advisory.from_record(record) for _name, record in read_records(path))

    def advisories_for(self, packages: Iterable[str]) -> dict[str, list[Advisory]]:
        return {p: self.by_package[p] for p in packages if p in self.by_package}

    def __len__(self) -> int:
        return self.count


class OsvApi:
    """OSV's HTTP API (querybatch, then each vulnerability): only where a network is there."""

    def __init__(self, url: str = "https://api.osv.dev", timeout: float = 20.0):
        self.url, self.timeout = url.rstrip("/"), timeout

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(f"{self.url}{path}", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - https URL from settings
            return json.load(response)

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=self.timeout) as response:  # noqa: S310
            return json.load(response)

    def advisories_for_pins(self, pins: list[Pin]) -> dict[str, list[Advisory]]:
        pinned = [p for p in pins if p.version]
        queries = [{"package": {"name": p.name, "ecosystem": ECOSYSTEM}, "version": p.version} for p in pinned]
        found: dict[str, list[Advisory]] = {}
        for start in range(0, len(queries), 1000):
            answer = self._post("/v1/querybatch", {"queries": queries[start : start + 1000]})
            for pin, result in zip(pinned[start : start + 1000], answer.get("results", [])):
                for vuln in result.get("vulns", []):
                    found.setdefault(pin.key, []).append(Advisory.from_record(self._get(f"/v1/vulns/{vuln['id']}")))
        return found


# ------------------------------------------------------------------ matching


@dataclass
class Match:
    pin: Pin
    advisory: Advisory


@dataclass
class Vulnerability:
    """One vulnerability of one pinned package: every matched advisory that names it (aliases merged)."""

    pin: Pin
    advisories: list[Advisory]

    @property
    def ids(self) -> list[str]:
        return sorted({a.id for a in self.advisories})

    @property
    def aliases(self) -> list[str]:
        names = {a.id for a in self.advisories} | {alias for a in self.advisories for alias in a.aliases}
        return sorted(names)

    @property
    def canonical_id(self) -> str:
        """A stable name whichever database found it: the CVE if there is one, else the smallest id."""
        cves = sorted(n for n in self.aliases if n.startswith("CVE-"))
        return cves[0] if cves else self.ids[0]

    def rating(self) -> tuple[str, float | None, str, str]:
        ratings = [a.rating(self.pin.key) for a in self.advisories]
        scored = [r for r in ratings if r[1] is not None]
        pool = scored or ratings
        return max(pool, key=lambda r: (sev.RANK[r[0]], r[1] or 0))

    def fixed_versions(self) -> list[str]:
        fixed = {v for a in self.advisories for v in a.fixed_versions(self.pin.key)}
        return sorted(fixed, key=lambda v: (pep440(v) is None, pep440(v) or v))


def match(pins: Iterable[Pin], source: AdvisorySource) -> list[Match]:
    """Every (pin, advisory) where the pinned version is affected; advisory ids as in the database."""
    pins = [p for p in pins if p.version]
    known = source.advisories_for({p.key for p in pins})
    matches = []
    for pin in pins:
        for advisory in known.get(pin.key, []):
            if any(affects(entry, pin.version or "") for entry in advisory.affected_entries(pin.key)):
                matches.append(Match(pin, advisory))
    return matches


def merge_aliases(matches: Iterable[Match]) -> list[Vulnerability]:
    """One Vulnerability per pin and group of advisories sharing an id or alias (union-find)."""
    by_pin: dict[tuple[str, str | None, str], list[Advisory]] = {}
    pins: dict[tuple[str, str | None, str], Pin] = {}
    for m in matches:
        key = (m.pin.key, m.pin.version, m.pin.manifest)
        pins.setdefault(key, m.pin)
        if all(a.id != m.advisory.id for a in by_pin.setdefault(key, [])):
            by_pin[key].append(m.advisory)
    result = []
    for key, advisories in by_pin.items():
        parent = list(range(len(advisories)))

        def find(i: int, parent: list[int] = parent) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        owner: dict[str, int] = {}
        for index, advisory in enumerate(advisories):
            for name in [advisory.id, *advisory.aliases]:
                if name in owner:
                    parent[find(index)] = find(owner[name])
                else:
                    owner[name] = index
        groups: dict[int, list[Advisory]] = {}
        for index, advisory in enumerate(advisories):
            groups.setdefault(find(index), []).append(advisory)
        for group in groups.values():
            result.append(Vulnerability(pins[key], sorted(group, key=lambda a: a.id)))
    return sorted(result, key=lambda v: (v.pin.manifest, v.pin.key, v.canonical_id))
