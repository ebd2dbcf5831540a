"""SARIF 2.1.0: our export validates against the official schema; imports (ours or another tool's)
become findings, and a re-import of our own export merges with the original findings."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from security.export import sarif_for_scan
from security.ingest import record_report, start_scan, target_for
from security.models import Finding
from security.scanners import sarif
from security.scanners.results import ScanReport
from security.scanning import scan_folder

FOREIGN = {
    "version": "2.1.0",
    "runs": [{
        "tool": {"driver": {"name": "ESLint", "rules": [{"id": "no-eval", "shortDescription": {"text": "no eval"},
                                                          "properties": {"security-severity": "7.5"}}]}},
        "results": [{
            "ruleId": "no-eval", "level": "error", "message": {"text": "eval can be harmful."},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": "web/app.js"},
                                                "region": {"startLine": 2, "startColumn": 3}}}],
        }],
    }],
}  # fmt: skip


def test_the_export_validates_and_carries_rules_help_columns_and_fingerprints(db, project: Path):
    scan = scan_folder(project, tools=["bandit", "semgrep", "detect-secrets"], manifests=[])

    document = sarif_for_scan(scan)

    sarif.validate(document)
    runs = {run["tool"]["driver"]["name"]: run for run in document["runs"]}
    assert set(runs) == {"bandit", "semgrep", "detect-secrets"}
    results = [r for run in runs.values() for r in run["results"]]
    assert len(results) == scan.occurrences.count()
    for run in runs.values():
        assert all(rule["help"]["text"] for rule in run["tool"]["driver"]["rules"])
    for result in results:
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
        assert len(result["partialFingerprints"]["scriptRunner/v1"]) == 40


def test_an_invalid_log_is_refused_with_where_it_breaks():
    broken = copy.deepcopy(FOREIGN)
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startColumn"] = 0

    with pytest.raises(sarif.SarifInvalid, match="startColumn"):
        sarif.import_log(broken)


def test_another_tools_results_become_findings(db, tmp_path: Path):
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "app.js").write_text("function run(code) {\n  eval(code);\n}\n")

    findings = sarif.import_log(FOREIGN, tmp_path)
    scan = start_scan(target_for(tmp_path), source="sarif", tools=["eslint"])
    record_report(scan, ScanReport(root=str(tmp_path), findings=findings, files=["web/app.js"]))

    [finding] = Finding.objects.all()
    assert (finding.tool, finding.rule_id, finding.severity, finding.line) == ("eslint", "no-eval", "high", 2)
    assert finding.fingerprint_fields["code"] == "eval(code);"


def test_reimporting_our_export_merges_with_the_original_findings(db, project: Path):
    scan = scan_folder(project, tools=["bandit"], manifests=[])
    before = set(Finding.objects.values_list("fingerprint", flat=True))

    findings = sarif.import_log(sarif_for_scan(scan), project)
    again = start_scan(scan.target, source="sarif", tools=["bandit"])
    record_report(again, ScanReport(root=str(project), findings=findings))

    assert set(Finding.objects.values_list("fingerprint", flat=True)) == before
    assert again.new_count == 0 and again.occurrences.count() == len(before)
