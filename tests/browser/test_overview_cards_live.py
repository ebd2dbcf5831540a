"""The overview's cards follow runs live: a new workflow's run that starts and then fails moves the
7-day run count, the failure count and rate, and the workflow count, with no reload."""

from __future__ import annotations

from .conftest import gate_command, login, shot, start_run

STATS = "fetch('/overview/stats/', {headers: {Accept: 'application/json'}}).then(r => r.json())"


def card(page, element_id: str) -> str:
    return page.locator(f"#{element_id}").inner_text()


def wait_for_card(page, element_id: str, text: str) -> None:
    page.wait_for_function(f"document.getElementById({element_id!r}).textContent === {text!r}", timeout=20_000)


def test_the_cards_count_a_run_as_it_starts_and_fails(page, server, gates):
    login(page, server, "viewer")
    page.wait_for_function("document.getElementById('live-state').textContent === 'live'")
    before = page.evaluate(STATS)
    assert card(page, "week-total") == str(before["week_total"])
    assert card(page, "workflow-count") == str(before["workflow_count"])
    page.evaluate("window.__notReloaded = true")

    run = start_run(server, f"name: overview_cards\ntasks:\n  a: {{run: '{gate_command(gates / 'go')} && false'}}\n")
    wait_for_card(page, "week-total", str(before["week_total"] + 1))
    wait_for_card(page, "workflow-count", str(before["workflow_count"] + 1))
    assert card(page, "week-failed") == str(before["week_failed"])

    (gates / "go").touch()
    page.wait_for_selector(f"table[data-live-runs='finished'] tr[data-run='{run['id']}'] .badge.status-failed")
    wait_for_card(page, "week-failed", str(before["week_failed"] + 1))
    after = page.evaluate(STATS)
    assert after["week_failed"] == before["week_failed"] + 1
    wait_for_card(page, "failure-rate", f"{after['failure_rate']:.1f}%")
    assert page.evaluate("window.__notReloaded") is True
    shot(page, "overview_cards_live")
