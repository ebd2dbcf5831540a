"""The project's Semgrep rules find real Python security mistakes that Bandit does not report."""

from __future__ import annotations

from pathlib import Path

from security.scanners.pipeline import ScanOptions, scan_tree
from security.scanners.semgrep import load_rules

from .conftest import SEMGREP_SAMPLE

DJANGO_VIEWS = """\
import os

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def hook(request):
    return HttpResponse("ok")


def hello(request):
    return HttpResponse("<p>Hello " + request.GET.get("name", ""))


def download(request):
    with open(os.path.join("/srv/files", request.GET["file"])) as fh:
        return fh.read()


def check(sig, mac):
    return sig == mac.hexdigest()
"""


def test_every_rule_fires_where_bandit_stays_silent(tmp_path: Path):
    (tmp_path / "loaders.py").write_text(SEMGREP_SAMPLE)
    (tmp_path / "views.py").write_text(DJANGO_VIEWS)

    report = scan_tree(tmp_path, ScanOptions(tools=("bandit", "semgrep")))

    semgrep_hits = {(f.path, f.line, f.rule_id) for f in report.findings if f.tool == "semgrep"}
    bandit_lines = {(f.path, f.line) for f in report.findings if f.tool == "bandit"}
    assert {rule for _, _, rule in semgrep_hits} == set(load_rules())
    assert not {(path, line) for path, line, _ in semgrep_hits} & bandit_lines


def test_rule_findings_carry_help_text_a_cwe_and_a_severity(tmp_path: Path):
    (tmp_path / "loaders.py").write_text(SEMGREP_SAMPLE)

    report = scan_tree(tmp_path, ScanOptions(tools=("semgrep",)))

    by_rule = {f.rule_id: f for f in report.findings}
    unsafe = by_rule["yaml-unsafe-load"]
    assert unsafe.severity == "high" and unsafe.cwe == "CWE-502"
    assert "safe_load" in unsafe.help_text and unsafe.snippet and unsafe.column >= 1
