"""detect-secrets through its library: planted secrets are found and stored only masked; inline
allow-list comments and a baseline's known secrets are honoured."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from django.core import serializers

from security.models import Finding, FindingEvent, Occurrence, Scan
from security.scanning import scan_folder

from .conftest import AWS_KEY, GITHUB_TOKEN


def stored_text() -> str:
    rows = [*Finding.objects.all(), *Occurrence.objects.all(), *FindingEvent.objects.all(), *Scan.objects.all()]
    return serializers.serialize("json", rows)


def test_secrets_are_found_but_only_their_masked_form_is_stored(db, project: Path):
    scan = scan_folder(project, tools=["detect-secrets", "bandit"], use_cache=False)

    secrets = Finding.objects.filter(kind="secret")
    assert {f.rule_id for f in secrets} >= {"AWS Access Key", "GitHub Token", "Secret Keyword"}
    dump = stored_text()
    assert AWS_KEY not in dump and GITHUB_TOKEN not in dump and "Tr0ub4dor" not in dump
    aws = secrets.get(rule_id="AWS Access Key")
    assert aws.secret_masked.startswith("AK") and "*" in aws.secret_masked
    assert aws.occurrences.get(scan=scan).snippet.count(aws.secret_masked) == 1


def test_an_allowlisted_line_is_not_reported(db, project: Path):
    scan_folder(project, tools=["detect-secrets"], use_cache=False)

    assert not Finding.objects.filter(kind="secret", line=5).exists()


def test_secrets_listed_in_the_baseline_are_known_and_not_reported(db, project: Path):
    baseline = subprocess.run([sys.executable, "-P", "-m", "detect_secrets", "scan", "--all-files", "app/settings.py"],
                              cwd=project, capture_output=True, text=True, check=True).stdout  # fmt: skip
    data = json.loads(baseline)
    data["results"]["app/settings.py"] = [s for s in data["results"]["app/settings.py"] if s["type"] != "GitHub Token"]
    (project / ".secrets.baseline").write_text(json.dumps(data))

    scan_folder(project, tools=["detect-secrets"], use_cache=False)

    assert list(Finding.objects.filter(kind="secret").values_list("rule_id", flat=True)) == ["GitHub Token"]


def test_secrets_listed_in_the_baseline_are_still_masked_in_other_tools_findings(db, project: Path):
    baseline = subprocess.run([sys.executable, "-P", "-m", "detect_secrets", "scan", "--all-files", "app/settings.py"],
                              cwd=project, capture_output=True, text=True, check=True).stdout  # fmt: skip
    (project / ".secrets.baseline").write_text(baseline)  # every planted secret is known

    scan = scan_folder(project, tools=["detect-secrets", "bandit"], use_cache=False)

    assert not Finding.objects.filter(kind="secret").exists()
    b105 = Finding.objects.filter(tool="bandit", rule_id="B105")  # Bandit quotes the values and shows their lines
    assert b105.exists() and all(f.path == "app/settings.py" and "*" in f.message for f in b105)
    findings = list(Finding.objects.filter(path="app/settings.py"))
    occurrences = list(Occurrence.objects.filter(scan=scan, finding__in=findings))
    assert occurrences and all(o.snippet for o in occurrences)
    for value in (AWS_KEY, GITHUB_TOKEN, "Tr0ub4dor"):
        for finding in findings:
            assert value not in finding.message and value not in finding.title
        for occurrence in occurrences:
            assert value not in occurrence.message and value not in occurrence.snippet
            assert value not in json.dumps(occurrence.raw)
        assert value not in stored_text()
