"""The run page's cost, live over the real WebSocket: the total grows while a task runs, then is final."""

from __future__ import annotations

import pytest

from .conftest import HeldRequest, gate_command, login, open_quick_and_waiting, shot


def money(page, selector: str) -> float:
    return float(page.locator(selector).get_attribute("data-total"))


def test_the_run_total_grows_while_a_task_runs_and_ends_final(page, server, gates):
    # 100 requested vCPUs make the cost grow visibly every second (about $0.00087 a second).
    source = f"""
name: live_cost
cost: {{provider: aws, region: us-east-1, instance_type: m5.large, requests: {{cpu: 100}}}}
tasks:
  crunch: {{run: "{gate_command(gates / "done")}"}}
"""
    workflow = server.api("POST", "/api/workflows/", {"source": source}, role="operator")
    run = server.api("POST", f"/api/workflows/{workflow['id']}/runs/", {}, role="operator")
    login(page, server, "viewer")
    page.goto(f"{server.url}/runs/{run['id']}/")
    page.wait_for_selector("svg.dag g.node[data-node='crunch'].status-running")
    page.wait_for_function("Number(document.getElementById('run-cost-total').dataset.total) > 0")
    first = money(page, "#run-cost-total")
    page.wait_for_function(f"Number(document.getElementById('run-cost-total').dataset.total) > {first}")
    second = money(page, "#run-cost-total")
    assert second > first
    node_cost = page.locator("svg.dag g.node[data-node='crunch'] text.cost")
    assert node_cost.text_content().startswith("$") and "live" in node_cost.get_attribute("class")
    assert page.locator("#run-cost").inner_text().startswith("$")
    shot(page, "cost_growing")
    (gates / "done").touch()
    page.wait_for_selector("#run-status.status-success")
    page.wait_for_selector("#cost-state:has-text('final')")
    api = server.api("GET", f"/api/costs/runs/{run['id']}/", role="viewer")
    assert money(page, "#run-cost-total") == pytest.approx(api["total"])
    page.wait_for_selector("#cost-what-if tr[data-provider='gcp']")
    page.click("svg.dag g.node[data-node='crunch']")
    page.wait_for_selector("#cost-why-body .cost-record li")
    assert "requested" in page.locator("#cost-why-body").inner_text()
    shot(page, "cost_final")


def test_the_costs_page_renders_for_a_viewer(page, server):
    login(page, server, "viewer")
    page.goto(f"{server.url}/costs/")
    assert page.locator("#stale-warning").is_visible()
    assert "2020-06-30" in page.locator("#catalogue-sources").inner_text()
    shot(page, "costs_page")


def test_a_late_answer_for_the_node_explained_before_does_not_replace_the_one_shown(page, server, gates):
    """Click `waits` (its cost records held back in the network), then `quick`: when the held
    answer arrives last, the box still explains quick (it said waits was still running)."""
    header = "cost: {provider: aws, region: us-east-1, instance_type: m5.large}"
    open_quick_and_waiting(page, server, gates, "viewer", "explain_race", header)

    held = HeldRequest(page, lambda url: "/api/costs/records/" in url and "node=waits" in url)
    with held.sent():
        page.click("svg.dag g.node[data-node='waits']")
    page.click("svg.dag g.node[data-node='quick']")
    page.wait_for_selector("#cost-why-body .cost-record")
    assert page.locator("#cost-why-body").inner_text().startswith("Attempt 1")

    held.release()
    assert page.locator("#cost-why-body").inner_text().startswith("Attempt 1")
    assert page.locator("#cost-why-node").inner_text() == "— quick"
    (gates / "end").touch()
    page.wait_for_selector("#run-status.status-success")
