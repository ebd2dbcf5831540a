"""Scan a folder and store what was found: the one path every scan takes (CLI, API, run gates)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import conf
from .advisories import StoredAdvisories
from .ingest import fail_scan, record_report, start_scan, target_for
from .models import Scan
from .scanners import sbom
from .scanners.cache import ResultCache
from .scanners.manifests import MANIFEST_NAMES
from .scanners.osv import OsvApi
from .scanners.pipeline import ALL_TOOLS, ScanOptions, collect_pins, scan_tree
from .scanners.results import ScanReport


@functools.cache
def _cache(path: Path) -> ResultCache:
    return ResultCache(path)


def result_cache() -> ResultCache:
    return _cache(conf.scan_cache_path())


def options(*, tools: Sequence[str] = ALL_TOOLS, files: list[str] | None = None, manifests: Sequence[str] = (),
            environment: str | None = None, use_cache: bool = True, baseline: Path | None = None) -> ScanOptions:  # fmt: skip
    stored = StoredAdvisories()
    return ScanOptions(
        tools=tuple(tools), files=files, manifests=list(manifests), environment=environment,
        advisories=stored if stored.count() else None,
        online=OsvApi(conf.osv_api_url()) if conf.osv_online() else None,
        cache=result_cache() if use_cache else None, baseline=baseline,
    )  # fmt: skip


def default_manifests(root: Path) -> list[str]:
    return [name for name in MANIFEST_NAMES if (root / name).is_file()]


def make_sbom(
    report: ScanReport, root: Path, opts: ScanOptions, subject: str, python: str | None = None
) -> tuple[str, str, str] | None:
    """The scan's SBOM: from its manifests (or environment), or else from the interpreter the
    tasks run with (`python`: the one a gate found in the tasks' commands; else this process's)."""
    scratch = ScanReport(root=str(root))
    pins = collect_pins(root, opts, scratch) if opts.manifests or opts.environment else []
    source = ", ".join(scratch.manifests)
    if not pins:
        python = python or sys.executable
        pins = collect_pins(root, ScanOptions(tools=(), environment=python), scratch)
        source = f"python:{python}"
    if not pins:
        return None
    report.components = sbom.components(pins)
    return sbom.build(pins, subject=subject, source=source), sbom.SPEC_VERSION, source


def scan_folder(root: Path, *, source: str = "cli", tools: Sequence[str] = ALL_TOOLS, files: list[str] | None = None,
                manifests: Sequence[str] | None = None, environment: str | None = None, workflow: Any = None,
                run: Any = None, user: Any = None, use_cache: bool = True, scan: Scan | None = None,
                baseline: Path | None = None, sbom_python: str | None = None) -> Scan:  # fmt: skip
    """Scan, store, and return the stored Scan (status done, or failed with a message)."""
    root = Path(root).resolve()
    manifests = list(manifests) if manifests is not None else default_manifests(root)
    if scan is None:
        target = target_for(root, name=workflow.name if workflow is not None else "", workflow=workflow)
        requested = {"files": files, "manifests": manifests, "environment": environment}
        scan = start_scan(target, source=source, tools=tools, requested=requested, run=run, user=user)
    opts = options(tools=tools, files=files, manifests=manifests, environment=environment, use_cache=use_cache,
                   baseline=baseline)  # fmt: skip
    try:
        report = scan_tree(root, opts)
        document = make_sbom(report, root, opts, subject=scan.target.name, python=sbom_python)
    except Exception as exc:
        fail_scan(scan, f"the scan failed: {exc}")
        raise
    return record_report(scan, report, sbom=document)
