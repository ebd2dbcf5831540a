"""Our findings keep what each tool reports: on the same input, the raw CLIs and our scan agree
(file, line, rule) for Bandit, Semgrep and detect-secrets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from security.scanners import semgrep
from security.scanners.pipeline import ScanOptions, scan_tree


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    from .conftest import plant

    return plant(tmp_path_factory.mktemp("raw") / "project")


@pytest.fixture(scope="module")
def ours(planted):
    return scan_tree(planted, ScanOptions(tools=("bandit", "semgrep", "detect-secrets")))


def found_by(report, tool: str) -> set[tuple[str, int, str]]:
    return {(f.path, f.line, f.rule_id) for f in report.findings if f.tool == tool}


def test_bandit_cli_and_our_scan_report_the_same_issues(planted, ours):
    raw = subprocess.run([sys.executable, "-P", "-m", "bandit", "-r", ".", "-f", "json", "-q"], cwd=planted,
                         capture_output=True, text=True, check=False)  # fmt: skip
    results = json.loads(raw.stdout)["results"]
    expected = {(r["filename"].removeprefix("./"), r["line_number"], r["test_id"]) for r in results}

    assert expected and found_by(ours, "bandit") == expected
    assert {"B602", "B301", "B324"} <= {rule for _, _, rule in expected}


def test_semgrep_cli_and_our_scan_report_the_same_issues(planted, ours):
    raw = subprocess.run([semgrep.semgrep_bin(), "scan", "--config", str(semgrep.RULES_DIR), "--json", "--metrics=off",
                          "--disable-version-check", "--quiet", "."],
                         cwd=planted, capture_output=True, text=True, env=semgrep.offline_env(), check=False)  # fmt: skip
    results = json.loads(raw.stdout)["results"]
    expected = {(r["path"], r["start"]["line"], semgrep.rule_id_of(r["check_id"])) for r in results}

    assert len(expected) >= 4 and found_by(ours, "semgrep") == expected


def test_detect_secrets_cli_and_our_scan_report_the_same_secrets(planted, ours):
    raw = subprocess.run([sys.executable, "-P", "-m", "detect_secrets", "scan", "--all-files", "."], cwd=planted,
                         capture_output=True, text=True, check=False)  # fmt: skip
    results = json.loads(raw.stdout)["results"]
    expected = {(path, s["line_number"], s["type"]) for path, secrets in results.items() for s in secrets}
    hashes = {s["hashed_secret"] for secrets in results.values() for s in secrets}

    assert found_by(ours, "detect-secrets") == expected
    assert {f.raw["hashed_secret"] for f in ours.findings if f.tool == "detect-secrets"} == hashes
    assert {"AWS Access Key", "GitHub Token"} <= {rule for _, _, rule in expected}
