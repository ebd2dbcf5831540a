"""detect-secrets with its default plugins, through its library API (in worker processes).

Honours a baseline file (`.secrets.baseline` at the root, or the one given): secrets it lists
are known and not reported (yet still masked in every tool's output), and its plugin/filter
settings are used; and inline allow-list comments (`# pragma: allowlist secret`). Only masked
values and hashes are ever returned.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from . import fingerprint
from . import severity as sev
from .files import SourceFile, snippet
from .results import SECRET, ScanError, ScanFinding
from .tools import ToolFailed, quiet_env

BASELINE_NAME = ".secrets.baseline"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
HELP = (
    "A credential written into a file is readable by everyone who can read the file, its history and its "
    "copies. Revoke it, move it to a secret store (the workflow's `secrets:`), and read it from the "
    "environment. If it is not a secret, mark it with an inline `# pragma: allowlist secret` comment or "
    "triage the finding as a false positive."
)


class DetectSecrets:
    name = "detect-secrets"

    def __init__(self, baseline: Path | None = None):
        self.baseline_path = baseline

    def baseline(self, root: Path) -> dict[str, Any] | None:
        path = self.baseline_path or root / BASELINE_NAME
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except ValueError as exc:
            raise ToolFailed(f"the baseline {path} is not valid JSON: {exc}") from None

    def version(self) -> str:
        return metadata.version("detect-secrets")

    def config_digest(self, root: Path | None = None) -> str:
        baseline = self.baseline(root) if root is not None else None
        # "baselined": results made before known secrets were returned (for masking) must not be reused.
        text = f"detect-secrets {self.version()} baselined {json.dumps(baseline, sort_keys=True)}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def applies(self, file: SourceFile) -> bool:
        return file.is_text and Path(file.path).name != BASELINE_NAME

    def scan(self, root: Path, paths: Sequence[str]) -> tuple[dict[str, list[dict[str, Any]]], list[ScanError]]:
        try:
            job = {"root": str(root), "files": list(paths), "baseline": self.baseline(root)}
        except ToolFailed as exc:
            return {}, [ScanError(self.name, str(exc))]
        try:
            done = subprocess.run(
                [sys.executable, "-P", "-m", "security.scanners.secrets_worker"], input=json.dumps(job).encode(),
                capture_output=True, cwd=PROJECT_ROOT, env=quiet_env(PYTHONPATH=str(PROJECT_ROOT)), timeout=1800,
                check=False,
            )  # fmt: skip
            output = json.loads(done.stdout)
        except (ValueError, subprocess.TimeoutExpired, OSError) as exc:
            return {}, [ScanError(self.name, f"the detect-secrets worker failed: {exc}")]
        errors = [ScanError(self.name, e["message"], e["path"]) for e in output.get("errors", [])]
        return output.get("results", {}), errors

    def findings(self, path: str, raw: list[dict[str, Any]], file: SourceFile) -> list[ScanFinding]:
        masked_lines = {r["line_number"]: r["line_masked"] for r in raw}
        lines = [masked_lines.get(i + 1, text) for i, text in enumerate(file.lines)]
        found = []
        for result in raw:
            if result.get("baselined"):  # known: masked above, but not a finding
                continue
            line = int(result.get("line_number") or 0)
            text, start = snippet(lines, line)
            fields = fingerprint.secret_fields(result["type"], path, result["hashed_secret"])
            found.append(
                ScanFinding(
                    tool=self.name,
                    kind=SECRET,
                    rule_id=result["type"],
                    rule_name=result["type"],
                    title=f"{result['type']} in {path}",
                    severity=sev.HIGH,
                    message=f"{result['type']} found: {result.get('secret_masked', '')}",
                    path=path,
                    line=line,
                    column=1,
                    help_text=HELP,
                    snippet=text,
                    snippet_start=start,
                    fingerprint=fingerprint.digest(fields),
                    fingerprint_fields=fields,
                    secret_masked=result.get("secret_masked", ""),
                    severity_source="every secret is high",
                    raw={k: result[k] for k in ("type", "filename", "hashed_secret", "is_verified", "line_number")},
                )  # fmt: skip
            )
        return found


def masked_lines(raw: list[dict[str, Any]]) -> dict[int, str]:
    return {r["line_number"]: r["line_masked"] for r in raw}
