"""Bandit, run as its own CLI (JSON output), one process per chunk of files."""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from . import severity as sev
from .files import SourceFile, snippet
from .results import CODE, ScanError, ScanFinding
from .tools import ToolFailed, quiet_env, run_json

DOCS = "https://bandit.readthedocs.io/en/latest/"


class Bandit:
    name = "bandit"

    def version(self) -> str:
        return metadata.version("bandit")

    def config_digest(self) -> str:
        return hashlib.sha256(f"bandit {self.version()} defaults".encode()).hexdigest()[:16]

    def applies(self, file: SourceFile) -> bool:
        return file.is_python

    def command(self, paths: Sequence[str]) -> list[str]:
        return [sys.executable, "-P", "-m", "bandit", "-f", "json", "-q", "--exit-zero", *paths]

    def scan(self, root: Path, paths: Sequence[str]) -> tuple[dict[str, list[dict[str, Any]]], list[ScanError]]:
        raw: dict[str, list[dict[str, Any]]] = {path: [] for path in paths}
        errors: list[ScanError] = []
        try:
            output = run_json(self.command(list(paths)), cwd=root, env=quiet_env())
        except ToolFailed as exc:
            return {}, [ScanError(self.name, str(exc))]
        for result in output.get("results", []):
            path = _relative(result.get("filename", ""))
            raw.setdefault(path, []).append(result)
        for error in output.get("errors", []):
            path = _relative(error.get("filename", ""))
            errors.append(ScanError(self.name, error.get("reason", "error"), path))
            raw.pop(path, None)  # not cached: a file Bandit could not read is tried again next time
        return raw, errors

    def findings(self, path: str, raw: list[dict[str, Any]], file: SourceFile) -> list[ScanFinding]:
        found = []
        for result in raw:
            line = int(result.get("line_number") or 0)
            text, start = snippet(file.lines, line)
            test_id = result.get("test_id", "")
            cwe = result.get("issue_cwe") or {}
            found.append(
                ScanFinding(
                    tool=self.name,
                    kind=CODE,
                    rule_id=test_id,
                    rule_name=result.get("test_name", ""),
                    title=f"{test_id} {result.get('test_name', '')}".strip(),
                    severity=sev.from_word(result.get("issue_severity"), sev.INFO),
                    confidence=str(result.get("issue_confidence", "")).lower(),
                    message=result.get("issue_text", ""),
                    path=path,
                    line=line,
                    column=int(result.get("col_offset") or 0) + 1,
                    end_line=max(result.get("line_range") or [line]),
                    end_column=int(result.get("end_col_offset") or 0) + 1 if result.get("end_col_offset") else 0,
                    help_text=rule_help(test_id),
                    help_url=result.get("more_info", ""),
                    cwe=f"CWE-{cwe['id']}" if cwe.get("id") else "",
                    snippet=text,
                    snippet_start=start,
                    severity_source=f"Bandit severity {result.get('issue_severity')}",
                    raw=result,
                )  # fmt: skip
            )
        return found


def _relative(filename: str) -> str:
    return filename[2:] if filename.startswith("./") else filename


@functools.cache
def rule_help(test_id: str) -> str:
    """Bandit documents each test in its plugin's docstring: the paragraphs after the title."""
    stevedore = logging.getLogger("stevedore.extension")
    level = stevedore.level
    stevedore.setLevel(logging.CRITICAL)  # Bandit's optional SARIF formatter logs an error when sarif_om is absent
    try:
        from bandit.core import extension_loader
    except ImportError:
        return ""
    finally:
        stevedore.setLevel(level)
    manager = extension_loader.MANAGER
    if test_id in manager.blacklist_by_id:
        return manager.blacklist_by_id[test_id].get("message", "")
    plugin = manager.plugins_by_id.get(test_id)
    doc = (plugin.plugin.__doc__ or "") if plugin else ""
    paragraphs = []
    for block in re.split(r"\n\s*\n", doc.strip()):
        text = " ".join(line.strip() for line in block.splitlines()).strip()
        if not text or text.startswith("**B"):
            continue
        if text.startswith(("..", "**Config", "**Example", ":Example", "See also")):
            break
        paragraphs.append(text)
    return "\n\n".join(paragraphs[:3])
