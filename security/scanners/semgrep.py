"""Semgrep with the project's own rules (rules/*.yml), run as its CLI with no network at all.

Semgrep lives in its own virtualenv (`.venv/semgrep`, made by `make setup`) because it pins
OpenTelemetry versions that differ from the tracing app's; SEMGREP_BIN overrides where it is.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from . import severity as sev
from .files import SourceFile, snippet
from .results import CODE, ScanError, ScanFinding
from .tools import ToolFailed, quiet_env, run_json

RULES_DIR = Path(__file__).resolve().parent / "rules"


def semgrep_bin() -> str | None:
    if os.environ.get("SEMGREP_BIN"):
        return os.environ["SEMGREP_BIN"]
    own = Path(sys.prefix) / "semgrep" / "bin" / "semgrep"
    if own.exists():
        return str(own)
    return shutil.which("semgrep")


def offline_env() -> dict[str, str]:
    # No version check, no metrics, no registry: everything it needs is on this machine.
    return quiet_env(SEMGREP_ENABLE_VERSION_CHECK="0", SEMGREP_SEND_METRICS="off", SEMGREP_IN_DOCKER="0")


@functools.cache
def load_rules(rules_dir: Path = RULES_DIR) -> dict[str, dict[str, Any]]:
    rules: dict[str, dict[str, Any]] = {}
    for path in sorted(rules_dir.glob("*.yml")):
        for rule in (yaml.safe_load(path.read_text()) or {}).get("rules", []):
            rules[rule["id"]] = rule
    return rules


@functools.cache
def semgrep_version(binary: str) -> str:
    """From the package's metadata beside the binary: `semgrep --version` takes seconds to start."""
    if not binary:
        return ""
    venv = Path(binary).resolve().parent.parent
    for info in sorted(venv.glob("lib/python*/site-packages/semgrep-*.dist-info")):
        return info.name.removeprefix("semgrep-").removesuffix(".dist-info")
    try:
        done = subprocess.run([binary, "--version", "--disable-version-check"], capture_output=True, text=True,
                              timeout=120, env=offline_env(), check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


class Semgrep:
    name = "semgrep"

    def __init__(self, rules_dir: Path = RULES_DIR, jobs: int | None = None):
        self.rules_dir = rules_dir
        self.jobs = jobs or os.cpu_count() or 1

    def version(self) -> str:
        return semgrep_version(semgrep_bin() or "")

    def config_digest(self) -> str:
        digest = hashlib.sha256(f"semgrep {self.version()}".encode())
        for path in sorted(self.rules_dir.glob("*.yml")):
            digest.update(path.read_bytes())
        return digest.hexdigest()[:16]

    def applies(self, file: SourceFile) -> bool:
        return file.is_python

    def command(self, paths: Sequence[str]) -> list[str]:
        binary = semgrep_bin() or "semgrep"
        return [binary, "scan", "--config", str(self.rules_dir), "--json", "--metrics=off", "--disable-version-check",
                "--quiet", "--no-git-ignore", "--jobs", str(self.jobs), "--timeout", "60", *paths]  # fmt: skip

    def scan(self, root: Path, paths: Sequence[str]) -> tuple[dict[str, list[dict[str, Any]]], list[ScanError]]:
        if not semgrep_bin():
            return {}, [ScanError(self.name, "semgrep is not installed (make setup puts it in .venv/semgrep)")]
        raw: dict[str, list[dict[str, Any]]] = {path: [] for path in paths}
        try:
            output = run_json(self.command(list(paths)), cwd=root, env=offline_env())
        except ToolFailed as exc:
            return {}, [ScanError(self.name, str(exc))]
        for result in output.get("results", []):
            raw.setdefault(result.get("path", ""), []).append(result)
        errors = []
        for error in output.get("errors", []):
            spans = error.get("spans") or [{}]
            path = error.get("path") or spans[0].get("file", "")
            errors.append(ScanError(self.name, error.get("message", error.get("type", "error")), path))
            if error.get("level", "error") == "error":
                raw.pop(path, None)
        return raw, errors

    def findings(self, path: str, raw: list[dict[str, Any]], file: SourceFile) -> list[ScanFinding]:
        rules = load_rules(self.rules_dir)
        found = []
        for result in raw:
            rule_id = rule_id_of(result.get("check_id", ""))
            rule = rules.get(rule_id, {})
            metadata = rule.get("metadata", {})
            extra = result.get("extra", {})
            start, end = result.get("start", {}), result.get("end", {})
            line = int(start.get("line") or 0)
            text, first = snippet(file.lines, line)
            level = metadata.get("severity") or extra.get("severity")
            found.append(
                ScanFinding(
                    tool=self.name,
                    kind=CODE,
                    rule_id=rule_id,
                    rule_name=rule_id,
                    title=rule_id,
                    severity=sev.from_word(level, sev.MEDIUM),
                    message=" ".join(str(extra.get("message", "")).split()),
                    path=path,
                    line=line,
                    column=int(start.get("col") or 1),
                    end_line=int(end.get("line") or line),
                    end_column=int(end.get("col") or 0),
                    help_text=" ".join(str(metadata.get("help", "")).split()),
                    cwe=str(metadata.get("cwe", "")).split(":")[0],
                    snippet=text,
                    snippet_start=first,
                    severity_source=f"Semgrep rule severity {level}",
                    raw=result,
                )  # fmt: skip
            )
        return found


def rule_id_of(check_id: str) -> str:
    """Semgrep prefixes a rule id with its config file's folder (`rules.yaml-unsafe-load`)."""
    return check_id.rsplit(".", 1)[-1]
