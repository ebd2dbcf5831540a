"""Findings as SARIF 2.1.0 (from the database: a scan's occurrences, each with its finding's state)."""

from __future__ import annotations

from typing import Any

from .models import Occurrence, Scan
from .scanners import sarif


def occurrence_dict(occurrence: Occurrence) -> dict[str, Any]:
    f = occurrence.finding
    return {
        "tool": f.tool, "kind": f.kind, "rule_id": f.rule_id, "rule_name": f.rule_name, "title": f.title,
        "severity": f.severity, "message": occurrence.message or f.message, "path": occurrence.path,
        "line": occurrence.line, "column": occurrence.column, "end_line": occurrence.end_line,
        "end_column": occurrence.end_column, "snippet": occurrence.snippet, "snippet_start": occurrence.snippet_start,
        "help_text": f.help_text, "help_url": f.help_url, "cwe": f.cwe, "fingerprint": f.fingerprint,
        "fingerprint_fields": f.fingerprint_fields, "state": f.state, "package": f.package, "version": f.version,
        "fixed_versions": f.fixed_versions, "aliases": f.aliases, "confidence": f.confidence,
        "severity_source": f.severity_source,
    }  # fmt: skip


def sarif_for_scan(scan: Scan) -> dict[str, Any]:
    rows = scan.occurrences.select_related("finding").order_by("path", "line", "id")
    versions = {tool: run.get("version", "") for tool, run in (scan.tool_runs or {}).items()}
    return sarif.export([occurrence_dict(o) for o in rows.iterator()], root=scan.target.root, versions=versions)
