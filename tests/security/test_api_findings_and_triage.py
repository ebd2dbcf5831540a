"""The findings API: filtered keyset pages, detail with history, triage (one or many) by triagers only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from security.models import Finding
from security.scanning import scan_folder

from .conftest import make_findings


@pytest.fixture
def scanned(db, project: Path):
    return scan_folder(project, tools=["bandit", "semgrep"], manifests=[])


def test_the_list_filters_and_pages_with_a_cursor(client_as, db):
    make_findings(130)
    client = client_as("viewer")
    seen, cursor = [], None
    while True:
        page = client.get("/api/security/findings/", {"state": "all", "tool": "bandit", "sort": "path",
                                                      **({"after": cursor} if cursor else {})}).json()  # fmt: skip
        seen += page["results"]
        cursor = page["next_cursor"]
        if not cursor:
            break

    assert len(seen) == Finding.objects.filter(tool="bandit").count() == 44
    assert len({r["id"] for r in seen}) == 44
    keys = [(r["path"], r["line"], r["id"]) for r in seen]
    assert keys == sorted(keys)
    high = client.get("/api/security/findings/", {"severity": "high"}).json()["results"]
    assert high and {r["severity"] for r in high} == {"high"} and {r["state"] for r in high} <= {"open", "confirmed"}


def test_a_bad_filter_is_a_400_with_a_message(client_as, scanned):
    response = client_as("viewer").get("/api/security/findings/", {"severity": "apocalyptic"})

    assert response.status_code == 400
    assert "severity must be one of" in response.json()["detail"]


def test_detail_has_history_occurrences_and_the_fingerprint_fields(client_as, scanned):
    finding = Finding.objects.get(rule_id="B602")

    body = client_as("viewer").get(f"/api/security/findings/{finding.pk}/").json()

    assert body["fingerprint_fields"]["rule"] == "bandit:B602"
    assert [h["to_state"] for h in body["history"]] == ["open"]
    assert body["occurrences"][0]["scan"] == scanned.pk and "subprocess.call" in body["occurrences"][0]["snippet"]


def test_a_viewer_cannot_triage_and_a_triager_can(client_as, scanned):
    finding = Finding.objects.get(rule_id="B602")
    body = {"state": "false_positive", "comment": "rsync target is a constant"}

    denied = client_as("viewer").post(
        f"/api/security/findings/{finding.pk}/triage/", body, content_type="application/json"
    )
    allowed = client_as("triager").post(f"/api/security/findings/{finding.pk}/triage/", body,
                                        content_type="application/json")  # fmt: skip

    assert denied.status_code == 403
    assert allowed.status_code == 200 and allowed.json() == {"changed": 1}
    finding.refresh_from_db()
    assert finding.state == "false_positive" and finding.events.last().user.username == "triager"


def test_bulk_triage_accepts_risk_until_a_date(client_as, scanned):
    ids = list(Finding.objects.filter(tool="semgrep").values_list("id", flat=True))
    until = (timezone.now() + timedelta(days=30)).date().isoformat()

    response = client_as("triager").post("/api/security/findings/triage/", {
        "ids": ids, "state": "accepted_risk", "comment": "sandboxed job", "accepted_until": until,
    }, content_type="application/json")  # fmt: skip

    assert response.status_code == 200 and response.json()["changed"] == len(ids) > 3
    assert set(Finding.objects.filter(pk__in=ids).values_list("state", flat=True)) == {"accepted_risk"}


@pytest.mark.parametrize("body, message", [
    ({"state": "accepted_risk", "comment": "ok"}, "needs an expiry date"),
    ({"state": "accepted_risk", "accepted_until": "2099-01-01"}, "needs a reason"),
    ({"state": "accepted_risk", "comment": "x", "accepted_until": "2001-01-01"}, "must be in the future"),
    ({"state": "false_positive"}, "say why"),
    ({"state": "confirmed", "accepted_until": "2099-01-01"}, "only an accepted risk"),
    ({"state": "accepted_risk", "comment": "x", "accepted_until": "next week"}, "is not a date"),
])  # fmt: skip
def test_bad_triage_is_refused_with_a_message_and_changes_nothing(client_as, scanned, body, message):
    finding = Finding.objects.get(rule_id="B602")

    response = client_as("triager").post(f"/api/security/findings/{finding.pk}/triage/", body,
                                         content_type="application/json")  # fmt: skip

    assert response.status_code == 400 and message in response.json()["detail"]
    finding.refresh_from_db()
    assert finding.state == "open" and finding.events.count() == 1


def test_unknown_ids_in_a_bulk_triage_are_named(client_as, scanned):
    response = client_as("triager").post("/api/security/findings/triage/", {"ids": [999999], "state": "confirmed"},
                                         content_type="application/json")  # fmt: skip

    assert response.status_code == 400 and "999999" in response.json()["detail"]
