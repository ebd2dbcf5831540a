"""Stable fingerprints: the same issue gets the same one whichever scan finds it, wherever its line moves.

A fingerprint hashes a few named fields, never a line number: for code, the rule, the file and
the flagged line's text (whitespace collapsed) plus which repeat of that text in the file it is;
for a secret, the file, the secret's type and the hash of its value; for a dependency, the
manifest, the package and the vulnerability's canonical id. The fields are kept with the
finding so a user can see why two results were merged.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

from .results import CODE, DEPENDENCY, SECRET, ScanFinding

VERSION = "v1"
_SPACE = re.compile(r"\s+")


def normalise_code(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def digest(fields: dict[str, Any]) -> str:
    data = json.dumps({"v": VERSION, **fields}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()[:40]


def code_fields(tool: str, rule_id: str, path: str, line_text: str, occurrence: int) -> dict[str, Any]:
    return {"kind": CODE, "rule": f"{tool}:{rule_id}", "path": path, "code": normalise_code(line_text),
            "occurrence": occurrence}  # fmt: skip


def secret_fields(secret_type: str, path: str, secret_hash: str) -> dict[str, Any]:
    return {"kind": SECRET, "rule": f"detect-secrets:{secret_type}", "path": path, "secret_sha1": secret_hash}


def dependency_fields(manifest: str, package: str, vulnerability: str) -> dict[str, Any]:
    return {"kind": DEPENDENCY, "rule": f"osv:{vulnerability}", "path": manifest, "package": package}


def assign_code_fingerprints(findings: Iterable[ScanFinding], lines_of: Any) -> None:
    """Fingerprint code findings; `lines_of(path)` gives a file's lines (for the flagged text).

    Identical flagged text twice in one file (two `pickle.loads(data)` lines) is told apart by
    its order among those repeats, which survives lines moving around it.
    """
    seen: dict[tuple[str, str, str], int] = {}
    ordered = sorted(findings, key=lambda f: (f.path, f.line, f.column, f.tool, f.rule_id))
    for finding in ordered:
        lines = lines_of(finding.path)
        text = lines[finding.line - 1] if lines and 0 < finding.line <= len(lines) else finding.snippet
        key = (f"{finding.tool}:{finding.rule_id}", finding.path, normalise_code(text))
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        finding.fingerprint_fields = code_fields(finding.tool, finding.rule_id, finding.path, text, occurrence)
        finding.fingerprint = digest(finding.fingerprint_fields)
