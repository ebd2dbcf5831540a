"""Store a scan's report: one finding per fingerprint and target, an occurrence per scan, history
for every state change; what a later scan of the same files no longer sees becomes fixed.

A scan changes a finding's state only where it means to (fixed, reopened, acceptance expired), and
reads that state again with the rows locked when it does, so a triage decision made while the scan
was being stored is never written over.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from .models import Component, Finding, FindingEvent, Occurrence, Sbom, Scan, Target
from .scanners import severity as sev
from .scanners.results import DEPENDENCY, ScanFinding, ScanReport

CHUNK = 500
ANALYZE_AFTER = 1000  # new findings in one scan
# Fields a later scan refreshes on a finding it sees again (the database or the line may have moved).
# Never the state: that belongs to the triage, and a scan changes it only through _change_states.
REFRESHED = ("title", "severity", "severity_rank", "severity_source", "message", "path", "line", "help_text", "help_url",
             "cwe", "confidence", "rule_name", "version", "fixed_versions", "aliases", "secret_masked",
             "fingerprint_fields", "last_seen_at", "last_scan", "occurrence_count")  # fmt: skip


def target_for(root: Path, *, name: str = "", workflow: Any = None) -> Target:
    root_text = str(Path(root).resolve())
    target, created = Target.objects.get_or_create(
        root=root_text, defaults={"name": name or Path(root_text).name or root_text, "workflow": workflow}
    )
    if not created and workflow is not None and target.workflow_id != workflow.pk:
        target.workflow = workflow
        target.save(update_fields=["workflow"])
    return target


def start_scan(target: Target, *, source: str, tools: Iterable[str], requested: dict[str, Any] | None = None,
               run: Any = None, user: Any = None) -> Scan:  # fmt: skip
    return Scan.objects.create(
        target=target, run=run, workflow=run.workflow if run is not None else target.workflow, source=source,
        status=Scan.RUNNING, tools=list(tools), requested=requested or {},
        created_by=user if user is not None and user.is_authenticated else None,
    )  # fmt: skip


def fail_scan(scan: Scan, message: str) -> Scan:
    scan.status, scan.message, scan.finished_at = Scan.FAILED, message, timezone.now()
    scan.save(update_fields=["status", "message", "finished_at"])
    return scan


def _finding_values(found: ScanFinding) -> dict[str, Any]:
    return {
        "tool": found.tool, "kind": found.kind, "rule_id": found.rule_id[:200], "rule_name": found.rule_name[:300],
        "title": found.title[:400], "severity": found.severity, "severity_rank": sev.rank(found.severity),
        "severity_source": found.severity_source[:300], "confidence": found.confidence[:12], "message": found.message,
        "path": found.path[:1000], "line": found.line, "help_text": found.help_text, "help_url": found.help_url[:500],
        "cwe": found.cwe[:40], "package": found.package[:200], "version": found.version[:100],
        "fixed_versions": found.fixed_versions, "aliases": found.aliases, "secret_masked": found.secret_masked[:100],
        "fingerprint_fields": found.fingerprint_fields,
    }  # fmt: skip


def record_report(scan: Scan, report: ScanReport, *, sbom: tuple[str, str, str] | None = None) -> Scan:
    """Store everything the report says; `sbom` is (CycloneDX JSON, spec version, source)."""
    now = timezone.now()
    unique: dict[str, ScanFinding] = {}
    for found in report.findings:
        unique.setdefault(found.fingerprint, found)
    workflow = scan.workflow or scan.target.workflow
    with transaction.atomic():
        existing: dict[str, Finding] = {}
        prints = list(unique)
        for start in range(0, len(prints), CHUNK):
            chunk = prints[start : start + CHUNK]
            for row in Finding.objects.select_for_update().filter(target=scan.target, fingerprint__in=chunk):
                existing[row.fingerprint] = row
        fresh = [
            Finding(target=scan.target, workflow=workflow, fingerprint=fp, first_seen_at=now, last_seen_at=now,
                    first_scan=scan, last_scan=scan, occurrence_count=1, state=Finding.OPEN, **_finding_values(found))
            for fp, found in unique.items() if fp not in existing
        ]  # fmt: skip
        Finding.objects.bulk_create(fresh, batch_size=CHUNK)
        events = [
            FindingEvent(finding=f, scan=scan, at=now, to_state=Finding.OPEN,
                         comment=f"first seen by {f.tool} in scan #{scan.pk}")
            for f in fresh
        ]  # fmt: skip
        seen = {f.fingerprint: f for f in fresh}
        for fp, row in existing.items():
            values = _finding_values(unique[fp])
            values.pop("kind"), values.pop("tool"), values.pop("rule_id"), values.pop("package")
            for name, value in values.items():
                setattr(row, name, value)
            row.last_seen_at, row.last_scan, row.occurrence_count = now, scan, row.occurrence_count + 1
            seen[fp] = row
        Finding.objects.bulk_update(list(existing.values()), REFRESHED, batch_size=CHUNK)
        events += _change_states(
            scan, [row.pk for row in existing.values() if row.state == Finding.FIXED], now,
            only_from=(Finding.FIXED,), to_state=Finding.OPEN, reason="reopened: seen again by a later scan",
            comment=lambda _f: f"seen again in scan #{scan.pk}: reopened",
        )  # fmt: skip
        Occurrence.objects.bulk_create(
            [Occurrence(finding=seen[fp], scan=scan, path=f.path[:1000], line=f.line, column=f.column,
                        end_line=f.end_line, end_column=f.end_column, message=f.message, snippet=f.snippet,
                        snippet_start=f.snippet_start, raw=f.raw, seen_at=now)
             for fp, f in unique.items()],
            batch_size=CHUNK,
        )  # fmt: skip
        fixed = _mark_fixed(scan, report, {f.pk for f in seen.values()}, now)
        events += fixed
        events += expire_acceptances(scan.target, now=now, scan=scan)
        FindingEvent.objects.bulk_create(events, batch_size=CHUNK)
        if report.components:
            Component.objects.bulk_create(
                [Component(scan=scan, name=c["name"][:200], version=c["version"][:100], purl=c["purl"][:400],
                           manifest=c["manifest"][:1000]) for c in report.components],
                batch_size=CHUNK,
            )  # fmt: skip
        if sbom is not None:
            Sbom.objects.update_or_create(scan=scan, defaults={"document": sbom[0], "spec_version": sbom[1],
                                                               "source": sbom[2][:1000]})  # fmt: skip
        scan.status = Scan.DONE
        scan.files, scan.manifests = report.files, report.manifests
        scan.errors = [dataclasses.asdict(e) for e in report.errors]
        scan.tool_runs = {name: dataclasses.asdict(run) for name, run in report.tools.items()}
        scan.counts = report.counts()
        scan.new_count, scan.fixed_count = len(fresh), len(fixed)
        scan.finished_at, scan.seconds = timezone.now(), report.seconds
        scan.save()
    if len(fresh) >= ANALYZE_AFTER:
        refresh_statistics()
    return scan


def refresh_statistics() -> None:
    """Let SQLite's planner know the findings table's shape, so a filtered page walks the sort's
    index (stopping after one page) instead of sorting every match. PostgreSQL's autovacuum does this."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Finding._meta.db_table}")


def _mark_fixed(scan: Scan, report: ScanReport, seen_ids: set[int], now: Any) -> list[FindingEvent]:
    """Open/confirmed findings this scan should have seen (same tool, a file it read) but did not."""
    failed_tools = {e.tool for e in report.errors if not e.path and e.level == "error"}
    failed_files = {(e.tool, e.path) for e in report.errors if e.path and e.level == "error"}
    code_scope, manifest_scope = set(report.files), set(report.manifests)
    tools = [t for t in scan.tools if t not in failed_tools]
    candidates = Finding.objects.filter(target=scan.target, state__in=Finding.ACTIVE, tool__in=tools)
    fixed = []
    for finding in candidates.only("id", "path", "tool", "kind", "state"):
        if finding.pk in seen_ids or (finding.tool, finding.path) in failed_files:
            continue
        scope = manifest_scope if finding.kind == DEPENDENCY else code_scope
        if finding.path in scope:
            fixed.append(finding.pk)
    return _change_states(
        scan, fixed, now, only_from=Finding.ACTIVE, to_state=Finding.FIXED,
        reason=f"no longer seen (scan #{scan.pk})", comment=lambda f: f"not seen by scan #{scan.pk} of {f.path}",
    )  # fmt: skip


def _change_states(scan: Scan, ids: list[int], now: Any, *, only_from: Iterable[str], to_state: str, reason: str,
                   comment: Callable[[Finding], str]) -> list[FindingEvent]:  # fmt: skip
    """Move these findings to `to_state` if they are still in one of `only_from`: their state is read
    again here, with the rows locked (PostgreSQL; SQLite's write transaction already keeps others
    out), so one triaged since the scan first looked keeps its decision. Returns unsaved events."""
    events = []
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        rows = list(
            Finding.objects.select_for_update().filter(pk__in=chunk, state__in=only_from).only("id", "path", "state")
        )
        Finding.objects.filter(pk__in=[f.pk for f in rows]).update(state=to_state, state_reason=reason)
        events += [FindingEvent(finding=f, scan=scan, at=now, from_state=f.state, to_state=to_state, comment=comment(f))
                   for f in rows]  # fmt: skip
    return events


def expire_acceptances(
    target: Target | None = None, *, now: Any = None, scan: Scan | None = None
) -> list[FindingEvent]:
    """Accepted risks whose date has passed are open again (the event says so); returns unsaved events."""
    now = now or timezone.now()
    expired = Finding.objects.filter(state=Finding.ACCEPTED_RISK, accepted_until__lte=now)
    if target is not None:
        expired = expired.filter(target=target)
    with transaction.atomic():  # locked: an acceptance renewed meanwhile is not reopened
        rows = list(expired.select_for_update().only("id", "accepted_until"))
        Finding.objects.filter(pk__in=[f.pk for f in rows]).update(
            state=Finding.OPEN, state_reason="risk acceptance expired"
        )
    events = [
        FindingEvent(finding=f, scan=scan, at=now, from_state=Finding.ACCEPTED_RISK, to_state=Finding.OPEN,
                     accepted_until=f.accepted_until,
                     comment=f"the risk acceptance ran out on {f.accepted_until:%Y-%m-%d %H:%M} UTC")
        for f in rows
    ]  # fmt: skip
    return events
