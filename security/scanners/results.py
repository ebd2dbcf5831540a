"""What every scanner returns: findings on one scale, with their fingerprint and the tool's raw result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

CODE, SECRET, DEPENDENCY = "code", "secret", "dependency"
KINDS = (CODE, SECRET, DEPENDENCY)


@dataclass
class ScanFinding:
    tool: str  # bandit, semgrep, detect-secrets, osv, or an imported SARIF tool's name
    kind: str  # code, secret or dependency
    rule_id: str
    title: str
    severity: str
    message: str
    path: str  # relative to the scanned root, with forward slashes
    line: int = 0
    column: int = 0
    end_line: int = 0
    end_column: int = 0
    confidence: str = ""
    rule_name: str = ""
    help_text: str = ""
    help_url: str = ""
    cwe: str = ""
    snippet: str = ""  # a few lines around the finding (secrets masked)
    snippet_start: int = 0  # line number of the snippet's first line
    fingerprint: str = ""
    fingerprint_fields: dict[str, Any] = field(default_factory=dict)
    # Dependencies.
    package: str = ""
    version: str = ""
    fixed_versions: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    # Secrets: never the value, only its masked form and its hash.
    secret_masked: str = ""
    severity_source: str = ""
    raw: dict[str, Any] = field(default_factory=dict)  # the tool's own result, unchanged (secrets: no value)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ScanError:
    tool: str
    message: str
    path: str = ""
    level: str = "error"  # "warning": noted, but the tool's results for that file still count


@dataclass
class ToolRun:
    tool: str
    version: str = ""
    files: int = 0
    cached: int = 0
    seconds: float = 0.0


@dataclass
class ScanReport:
    root: str
    findings: list[ScanFinding] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)
    tools: dict[str, ToolRun] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # every file the scan looked at (relative)
    manifests: list[str] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)  # name, version, purl, manifest
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for finding in self.findings:
            counts[finding.severity] = counts.get(finding.severity, 0) + 1
        return counts
