"""The triage pages: the findings list (filters, sort, bulk triage with a comment), a finding's page
(snippet, rule help, history, occurrences, fingerprint fields), scans, SBOM and SARIF downloads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from security.models import Finding
from security.scanners import sarif, sbom
from security.scanning import scan_folder


@pytest.fixture
def scanned(db, project: Path):
    return scan_folder(project, tools=["bandit", "semgrep", "detect-secrets"])


def test_the_list_filters_by_tool_and_severity(client_as, scanned):
    page = client_as("viewer").get("/findings/", {"tool": "semgrep", "severity": "high"})

    html = page.content.decode()
    assert page.status_code == 200
    assert ">yaml-unsafe-load</a>" in html and ">B602 subprocess_popen_with_shell_equals_true</a>" not in html
    assert 'name="ids"' not in html  # viewers get no bulk bar


def test_a_bad_filter_is_shown_not_a_crash(client_as, scanned):
    page = client_as("viewer").get("/findings/", {"new_since": "yesterday-ish"})

    assert page.status_code == 200
    assert "is not a date" in page.content.decode()


def test_bulk_triage_from_the_list_with_a_comment(client_as, scanned):
    ids = list(Finding.objects.filter(tool="bandit", severity="low").values_list("id", flat=True))
    client = client_as("triager")

    response = client.post("/findings/triage/", {"ids": ids, "state": "false_positive", "comment": "test fixtures",
                                                 "next": "/findings/?tool=bandit"})  # fmt: skip

    assert response.status_code == 302 and response["Location"] == "/findings/?tool=bandit"
    assert set(Finding.objects.filter(pk__in=ids).values_list("state", flat=True)) == {"false_positive"}
    assert "set to false positive" in client.get("/findings/").content.decode()


def test_a_failed_triage_says_why_and_changes_nothing(client_as, scanned):
    finding = Finding.objects.get(rule_id="B602")

    response = client_as("triager").post("/findings/triage/", {"ids": [finding.pk], "state": "accepted_risk",
                                                               "comment": "", "next": "/findings/"}, follow=True)  # fmt: skip

    assert "needs a reason" in response.content.decode()
    finding.refresh_from_db()
    assert finding.state == "open"


def test_viewers_and_operators_cannot_triage(client_as, scanned):
    finding = Finding.objects.get(rule_id="B602")

    for role in ("viewer", "operator"):
        response = client_as(role).post("/findings/triage/", {"ids": [finding.pk], "state": "confirmed"})
        assert response.status_code == 403


def test_the_finding_page_shows_snippet_help_history_occurrences_and_fingerprint(client_as, scanned):
    finding = Finding.objects.get(rule_id="B602")

    html = client_as("triager").get(f"/findings/{finding.pk}/").content.decode()

    assert 'class="ln bad"' in html and "subprocess.call" in html
    assert "shell" in finding.help_text and finding.help_text[:40] in html
    assert 'id="history"' in html and "first seen by bandit" in html
    assert f"/scans/{scanned.pk}/" in html
    assert "bandit:B602" in html and finding.fingerprint in html
    assert 'id="triage-form"' in html


def test_the_scan_pages_offer_the_sbom_and_sarif_downloads(client_as, scanned):
    client = client_as("viewer")

    detail = client.get(f"/scans/{scanned.pk}/").content.decode()
    sbom_page = client.get(f"/scans/{scanned.pk}/sbom/").content.decode()
    cdx = client.get(f"/scans/{scanned.pk}/sbom.cdx.json")
    log = client.get(f"/scans/{scanned.pk}/scan.sarif")

    assert "Download SARIF" in detail and "pkg:pypi/django@3.2.0" in sbom_page
    assert cdx["Content-Disposition"].startswith("attachment") and sbom.validate(cdx.content.decode()) is None
    sarif.validate(json.loads(log.content))


def test_pages_need_a_login(client, scanned):
    for url in ("/findings/", f"/scans/{scanned.pk}/", f"/scans/{scanned.pk}/scan.sarif"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")
