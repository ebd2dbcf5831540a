"""SARIF 2.1.0: export findings (validated against the official schema) and import other tools' results.

The export has one run per tool, each rule with its help text, results with columns >= 1 and
`partialFingerprints` holding our fingerprint (and its fields, so a re-import merges with the
original findings). An import turns any SARIF producer's results into findings.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator

from . import fingerprint
from . import severity as sev
from .files import snippet as cut_snippet
from .results import CODE, KINDS, ScanFinding

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "sarif-schema-2.1.0.json"
SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT_KEY = f"scriptRunner/{fingerprint.VERSION}"
LEVELS = {sev.CRITICAL: "error", sev.HIGH: "error", sev.MEDIUM: "warning", sev.LOW: "note", sev.INFO: "note"}
# GitHub's convention: a CVSS-like number on the rule, used when no score of our own is known.
SECURITY_SEVERITY = {sev.CRITICAL: "9.5", sev.HIGH: "8.0", sev.MEDIUM: "5.5", sev.LOW: "2.0", sev.INFO: "0.0"}
TOOL_URIS = {
    "bandit": "https://github.com/PyCQA/bandit",
    "semgrep": "https://semgrep.dev",
    "detect-secrets": "https://github.com/Yelp/detect-secrets",
    "osv": "https://osv.dev",
}


class SarifInvalid(ValueError):
    pass


@functools.cache
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


def validate(document: dict[str, Any]) -> None:
    validator = Draft4Validator(schema(), format_checker=Draft4Validator.FORMAT_CHECKER)
    error = next(iter(sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise SarifInvalid(f"not valid SARIF 2.1.0 at {where}: {error.message}")


def _rule(finding: dict[str, Any]) -> dict[str, Any]:
    help_text = finding.get("help_text") or finding.get("message") or finding.get("title") or finding["rule_id"]
    rule: dict[str, Any] = {
        "id": finding["rule_id"],
        "name": finding.get("rule_name") or finding["rule_id"],
        "shortDescription": {"text": finding.get("title") or finding["rule_id"]},
        "fullDescription": {"text": help_text},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": LEVELS[finding["severity"]]},
        "properties": {
            "tags": ["security", finding.get("kind", CODE), *([finding["cwe"]] if finding.get("cwe") else [])],
            "security-severity": SECURITY_SEVERITY[finding["severity"]],
        },
    }
    if finding.get("help_url"):
        rule["helpUri"] = finding["help_url"]
    return rule


def _result(finding: dict[str, Any], rule_index: int) -> dict[str, Any]:
    region: dict[str, Any] = {}
    line = int(finding.get("line") or 0)
    if line >= 1:
        region = {"startLine": line, "startColumn": max(1, int(finding.get("column") or 1))}
        end_line = int(finding.get("end_line") or 0)
        end_column = int(finding.get("end_column") or 0)
        if end_line >= line:
            region["endLine"] = end_line
            if end_column >= 1 and (end_line > line or end_column > region["startColumn"]):
                region["endColumn"] = end_column
        if finding.get("snippet"):
            lines = finding["snippet"].split("\n")
            offset = line - int(finding.get("snippet_start") or line)
            if 0 <= offset < len(lines):
                region["snippet"] = {"text": lines[offset]}
    physical: dict[str, Any] = {"artifactLocation": {"uri": finding["path"], "uriBaseId": "%SRCROOT%"}}
    if region:
        physical["region"] = region
    properties = {"severity": finding["severity"], "kind": finding.get("kind", CODE),
                  "fingerprintFields": finding.get("fingerprint_fields") or {}}  # fmt: skip
    for key in ("state", "package", "version", "fixed_versions", "aliases", "confidence", "severity_source"):
        if finding.get(key):
            properties[key] = finding[key]
    return {
        "ruleId": finding["rule_id"],
        "ruleIndex": rule_index,
        "level": LEVELS[finding["severity"]],
        "message": {"text": finding.get("message") or finding.get("title") or finding["rule_id"]},
        "locations": [{"physicalLocation": physical}],
        "partialFingerprints": {FINGERPRINT_KEY: finding["fingerprint"]},
        "properties": properties,
    }


def export(findings: Iterable[dict[str, Any]], *, root: str, versions: dict[str, str] | None = None) -> dict[str, Any]:
    """A SARIF log with one run per tool; `findings` are ScanFinding dicts (plus an optional state)."""
    versions = versions or {}
    by_tool: dict[str, list[dict[str, Any]]] = {}
    for finding in findings:
        by_tool.setdefault(finding["tool"], []).append(finding)
    root_uri = Path(root).resolve().as_uri().rstrip("/") + "/"
    runs = []
    for tool in sorted(set(by_tool) | set(versions)):
        rules: dict[str, int] = {}
        rule_list: list[dict[str, Any]] = []
        results = []
        for finding in by_tool.get(tool, []):
            if finding["rule_id"] not in rules:
                rules[finding["rule_id"]] = len(rule_list)
                rule_list.append(_rule(finding))
            results.append(_result(finding, rules[finding["rule_id"]]))
        driver: dict[str, Any] = {"name": tool, "rules": rule_list}
        if versions.get(tool):
            driver["version"] = versions[tool]
        if tool in TOOL_URIS:
            driver["informationUri"] = TOOL_URIS[tool]
        runs.append({
            "tool": {"driver": driver},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": root_uri}},
            "results": results,
            "columnKind": "unicodeCodePoints",
        })  # fmt: skip
    document = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": runs}
    validate(document)
    return document


# ------------------------------------------------------------------ import


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("text") or value.get("markdown") or "")
    return str(value or "")


def _severity(result: dict[str, Any], rule: dict[str, Any]) -> tuple[str, str]:
    ours = (result.get("properties") or {}).get("severity")
    if ours in sev.RANK:
        return ours, "the exporting tool's severity"
    for props in (result.get("properties") or {}, rule.get("properties") or {}):
        score = props.get("security-severity")
        try:
            return sev.from_score(float(score)), f"security-severity {score}"
        except (TypeError, ValueError):
            continue
    level = result.get("level") or (rule.get("defaultConfiguration") or {}).get("level") or "warning"
    return sev.from_word(level, sev.MEDIUM), f"SARIF level {level}"


def _relative(uri: str, root: Path | None, bases: dict[str, str], base_id: str | None) -> str:
    if base_id and base_id in bases:
        uri = bases[base_id].rstrip("/") + "/" + uri
    if uri.startswith("file://"):
        path = Path(uri[7:])
        if root is not None and path.is_relative_to(root):
            return path.relative_to(root).as_posix()
        return path.as_posix()
    return uri.removeprefix("./")


def import_log(document: dict[str, Any], root: Path | None = None) -> list[ScanFinding]:
    """Findings from a SARIF log (validated first); code is read from `root` to fingerprint it."""
    validate(document)
    root = root.resolve() if root is not None else None
    found: list[ScanFinding] = []
    foreign: list[ScanFinding] = []
    for run in document.get("runs") or []:
        driver = run["tool"]["driver"]
        tool = str(driver.get("name") or "sarif").strip().lower()
        rules = driver.get("rules") or []
        rule_by_id = {r.get("id"): r for r in rules}
        bases = {k: v.get("uri", "") for k, v in (run.get("originalUriBaseIds") or {}).items()}
        for result in run.get("results") or []:
            rule = rule_by_id.get(result.get("ruleId"), {})
            index = result.get("ruleIndex", -1)
            if not rule and isinstance(index, int) and 0 <= index < len(rules):
                rule = rules[index]
            rule_id = str(result.get("ruleId") or rule.get("id") or "unknown")
            severity, source = _severity(result, rule)
            physical = ((result.get("locations") or [{}])[0]).get("physicalLocation") or {}
            artifact = physical.get("artifactLocation") or {}
            region = physical.get("region") or {}
            path = _relative(str(artifact.get("uri") or ""), root, bases, artifact.get("uriBaseId"))
            props = result.get("properties") or {}
            kind = props.get("kind") if props.get("kind") in KINDS else CODE
            line = int(region.get("startLine") or 0)
            lines: list[str] = []
            if root is not None and path and (root / path).is_file():
                lines = (root / path).read_text(encoding="utf-8", errors="replace").splitlines()
            text, start = cut_snippet(lines, line) if lines else (_text(region.get("snippet")), line)
            finding = ScanFinding(
                tool=tool, kind=kind, rule_id=rule_id, rule_name=str(rule.get("name") or rule_id),
                title=_text(rule.get("shortDescription")) or rule_id, severity=severity,
                message=_text(result.get("message")), path=path, line=line, column=int(region.get("startColumn") or 1),
                end_line=int(region.get("endLine") or line), end_column=int(region.get("endColumn") or 0),
                help_text=_text(rule.get("help")) or _text(rule.get("fullDescription")),
                help_url=str(rule.get("helpUri") or ""), snippet=text, snippet_start=start,
                package=str(props.get("package") or ""), version=str(props.get("version") or ""),
                fixed_versions=list(props.get("fixed_versions") or []), aliases=list(props.get("aliases") or []),
                severity_source=str(props.get("severity_source") or source), raw=result,
            )  # fmt: skip
            ours = (result.get("partialFingerprints") or {}).get(FINGERPRINT_KEY)
            if ours and props.get("fingerprintFields"):
                finding.fingerprint, finding.fingerprint_fields = ours, dict(props["fingerprintFields"])
                found.append(finding)
            else:
                foreign.append(finding)

    def lines_of(path: str) -> list[str]:
        if root is not None and (root / path).is_file():
            return (root / path).read_text(encoding="utf-8", errors="replace").splitlines()
        return []

    for finding in foreign:
        if not lines_of(finding.path) and finding.snippet:
            finding.snippet_start = finding.line  # the region's own snippet: its first line is the flagged one
    fingerprint.assign_code_fingerprints(foreign, lambda path: lines_of(path) or _snippet_lines(foreign, path))
    return found + foreign


def _snippet_lines(findings: list[ScanFinding], path: str) -> list[str]:
    """Without the file, each result's own snippet stands in for its line."""
    lines: dict[int, str] = {}
    for finding in findings:
        if finding.path == path and finding.line and finding.snippet:
            lines[finding.line] = finding.snippet.split("\n")[0]
    if not lines:
        return []
    return [lines.get(number, "") for number in range(1, max(lines) + 1)]
