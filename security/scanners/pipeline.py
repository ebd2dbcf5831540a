"""One scan of a tree: every scanner in parallel, unchanged files answered from the content-hash cache.

Bandit and detect-secrets run as several processes over chunks of the files and Semgrep with its
own jobs, all at once, so the scan uses every core; OSV matching (in-process, fast) runs while
they work. Each finding comes back with a normalised severity and a stable fingerprint.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import fingerprint, masking, osv, sbom
from .bandit import Bandit
from .cache import ResultCache
from .detect_secrets import DetectSecrets
from .files import SourceFile, read_files, walk
from .manifests import ManifestError, Pin, environment_pins, read_manifest
from .results import DEPENDENCY, ScanError, ScanFinding, ScanReport, ToolRun
from .semgrep import Semgrep
from .tools import MAX_ARGV_FILES, chunks

CODE_TOOLS = ("bandit", "semgrep", "detect-secrets")
ALL_TOOLS = (*CODE_TOOLS, "osv")
# Where each tool keeps the file's path in its raw result (rewritten when a result comes from the cache).
PATH_FIELDS = {"bandit": "filename", "semgrep": "path", "detect-secrets": "filename"}


class ScanFailed(ValueError):
    pass


@dataclass
class ScanOptions:
    tools: tuple[str, ...] = ALL_TOOLS
    files: list[str] | None = None  # relative to the root; None: the whole tree
    manifests: list[str] = field(default_factory=list)  # requirements files etc., relative or absolute
    environment: str | None = None  # an interpreter whose installed packages are checked too
    advisories: osv.AdvisorySource | None = None
    online: osv.OsvApi | None = None
    cache: ResultCache | None = None
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    baseline: Path | None = None  # detect-secrets baseline; default: .secrets.baseline at the root


def make_tools(options: ScanOptions) -> dict[str, Any]:
    made: dict[str, Any] = {}
    for name in options.tools:
        if name == "bandit":
            made[name] = Bandit()
        elif name == "semgrep":
            made[name] = Semgrep(jobs=options.jobs)
        elif name == "detect-secrets":
            made[name] = DetectSecrets(options.baseline)
        elif name != "osv":
            raise ScanFailed(f"unknown scanner '{name}' (expected: {', '.join(ALL_TOOLS)})")
    return made


def scan_tree(root: Path, options: ScanOptions | None = None) -> ScanReport:
    options = options or ScanOptions()
    started = time.monotonic()
    root = Path(root).resolve()
    if not root.is_dir():
        raise ScanFailed(f"{root}: not a folder")
    report = ScanReport(root=str(root))
    tools = make_tools(options)
    paths = options.files if options.files is not None else walk(root)
    files = read_files(root, paths)
    for missing in sorted(set(paths) - set(files)):
        report.errors.append(ScanError("scan", "file not found or unreadable", missing))
    report.files = sorted(files)

    raw: dict[str, dict[str, list[dict[str, Any]]]] = {name: {} for name in tools}
    jobs: list[tuple[str, Callable[[], Any]]] = []
    pending: dict[str, dict[str, str]] = {}  # tool -> path -> cache key, for what must be scanned
    for name, tool in tools.items():
        digest = tool.config_digest(root) if isinstance(tool, DetectSecrets) else tool.config_digest()
        keys = {p: f"{f.sha256}:{digest}" for p, f in files.items() if tool.applies(f)}
        hits = options.cache.get_many(name, keys.values()) if options.cache else {}
        misses = sorted(p for p, key in keys.items() if key not in hits)
        for path, key in keys.items():
            if key in hits:
                raw[name][path] = [{**r, PATH_FIELDS[name]: path} for r in hits[key]]
        pending[name] = {p: keys[p] for p in misses}
        report.tools[name] = ToolRun(name, tool.version(), files=len(keys), cached=len(keys) - len(misses))
        # Semgrep spreads over the cores by itself; the others get two chunks a core, balanced by size.
        parts = 1 if name == "semgrep" else 2 * options.jobs
        sizes = {p: len(files[p].data) for p in misses}
        for chunk in chunks(misses, parts, limit=MAX_ARGV_FILES if name != "semgrep" else 10_000, sizes=sizes):
            jobs.append((name, lambda tool=tool, chunk=chunk: tool.scan(root, chunk)))

    timings: dict[str, float] = {}
    with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
        futures = [(name, time.monotonic(), pool.submit(job)) for name, job in jobs]
        dependency_findings = _dependencies(root, options, report) if "osv" in options.tools else []
        for name, _submitted, future in futures:
            results, errors = future.result()
            timings[name] = time.monotonic() - started
            raw[name].update(results)
            report.errors.extend(errors)
            if options.cache:
                fresh = {pending[name][p]: [_strip(name, r) for r in rs] for p, rs in results.items()
                         if p in pending[name]}  # fmt: skip
                options.cache.put_many(name, fresh)
    for name, seconds in timings.items():
        report.tools[name].seconds = round(seconds, 3)

    masked, values = _masked_files(files, raw.get("detect-secrets", {}))
    code: list[ScanFinding] = []
    for name, tool in tools.items():
        for path, results in sorted(raw[name].items()):
            if results and path in masked:
                found = tool.findings(path, results, masked[path])
                if values.get(path):  # another tool may quote the secret (Bandit's B105 message does)
                    found = [_scrub(f, values[path]) for f in found]
                (code if name != "detect-secrets" else report.findings).extend(found)
    fingerprint.assign_code_fingerprints(code, lambda path: masked[path].lines if path in masked else [])
    report.findings.extend(code)
    report.findings.extend(dependency_findings)
    report.findings.sort(key=lambda f: (f.path, f.line, f.tool, f.rule_id))
    report.seconds = round(time.monotonic() - started, 3)
    return report


def _strip(tool: str, result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != PATH_FIELDS[tool]}


def _masked_files(
    files: dict[str, SourceFile], secrets: dict[str, list[dict[str, Any]]]
) -> tuple[dict[str, SourceFile], dict[str, list[str]]]:
    """Files as every finding shows them (lines holding a found secret carry its masked form), and
    per file the secret values themselves, recovered in memory only, to scrub other tools' output."""
    masked: dict[str, SourceFile] = {}
    values: dict[str, list[str]] = {}
    for path, file in files.items():
        found = secrets.get(path)
        if not found:
            masked[path] = file
            continue
        by_line = {r["line_number"]: r["line_masked"] for r in found}
        copy = SourceFile(file.path, file.data, file.sha256)
        copy._lines = [by_line.get(i + 1, text) for i, text in enumerate(file.lines)]
        masked[path] = copy
        for number, line in by_line.items():
            if 0 < number <= len(file.lines):
                values.setdefault(path, []).extend(masking.hidden_values(file.lines[number - 1], line))
    return masked, values


def _scrub(finding: ScanFinding, secrets: list[str]) -> ScanFinding:
    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return masking.mask_in(value, secrets, stars_only=True)
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value

    for name in ("message", "title", "snippet", "raw"):
        setattr(finding, name, clean(getattr(finding, name)))
    return finding


# ------------------------------------------------------------------ dependencies


def collect_pins(root: Path, options: ScanOptions, report: ScanReport) -> list[Pin]:
    pins: list[Pin] = []
    for manifest in options.manifests:
        path = Path(manifest) if os.path.isabs(manifest) else root / manifest
        label = path.resolve().relative_to(root).as_posix() if path.resolve().is_relative_to(root) else str(path)
        try:
            found, warnings = read_manifest(path, label)
        except ManifestError as exc:
            report.errors.append(ScanError("osv", str(exc), label))
            continue
        report.manifests.append(label)
        pins += found
        report.errors += [ScanError("osv", w, label, "warning") for w in warnings]
    if options.environment:
        try:
            found, _python = environment_pins(options.environment)
        except ManifestError as exc:
            report.errors.append(ScanError("osv", str(exc)))
        else:
            report.manifests.append(f"python:{options.environment}")
            pins += found
    return pins


def _dependencies(root: Path, options: ScanOptions, report: ScanReport) -> list[ScanFinding]:
    started = time.monotonic()
    pins = collect_pins(root, options, report)
    report.components = sbom.components(pins)
    run = report.tools["osv"] = ToolRun("osv", "local advisories", files=len(report.manifests))
    matches: list[osv.Match] = []
    if pins:
        if options.advisories is None and options.online is None:
            report.errors.append(
                ScanError("osv", "no vulnerability data: import OSV advisories (manage.py osv_import)")
            )
        if options.advisories is not None:
            matches += osv.match(pins, options.advisories)
        if options.online is not None:
            run.version = "local advisories + OSV API"
            try:
                online = options.online.advisories_for_pins(pins)
            except OSError as exc:
                report.errors.append(ScanError("osv", f"the OSV API could not be reached: {exc}"))
            else:
                matches += osv.match(pins, _Fixed(online))
    findings = [dependency_finding(v) for v in osv.merge_aliases(matches)]
    run.seconds = round(time.monotonic() - started, 3)
    return findings


class _Fixed:
    def __init__(self, found: dict[str, list[osv.Advisory]]):
        self.found = found

    def advisories_for(self, packages: Any) -> dict[str, list[osv.Advisory]]:
        return {p: self.found[p] for p in packages if p in self.found}


def dependency_finding(vuln: osv.Vulnerability) -> ScanFinding:
    pin = vuln.pin
    severity, score, vector, source = vuln.rating()
    first = vuln.advisories[0]
    canonical = vuln.canonical_id
    fixed = vuln.fixed_versions()
    fields = fingerprint.dependency_fields(pin.manifest, pin.key, canonical)
    summary = first.summary or first.details.split("\n")[0][:200]
    fix = f"; fixed in {', '.join(fixed)}" if fixed else "; no fixed version yet"
    return ScanFinding(
        tool="osv", kind=DEPENDENCY, rule_id=canonical, rule_name=", ".join(vuln.ids), title=f"{canonical} in {pin.key}",
        severity=severity, message=f"{pin.key} {pin.version} is affected by {canonical}{fix}. {summary}".strip(),
        path=pin.manifest, line=pin.line, column=1 if pin.line else 0,
        help_text=first.details or first.summary, help_url=f"https://osv.dev/vulnerability/{first.id}",
        fingerprint=fingerprint.digest(fields), fingerprint_fields=fields, package=pin.key, version=pin.version or "",
        fixed_versions=fixed, aliases=vuln.aliases,
        severity_source=f"{source}{f' {score}' if score is not None else ''}{f' ({vector})' if vector else ''}",
        raw={"advisories": [a.raw for a in vuln.advisories]},
    )  # fmt: skip
