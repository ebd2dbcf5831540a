"""Triage in the browser: a gated run blocks and its page names the findings; a triager accepts one
risk on its page and marks others false positive from the list; the next run's gate passes, live."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.conftest import wait_until

from .conftest import login, shot

BUILD = "import subprocess\nimport sys\n\nimport loaders\n\nsubprocess.call(sys.argv[1:] or ['true'], shell=True)\n"
LOADERS = "import yaml\n\n\ndef read(text):\n    return yaml.unsafe_load(text)\n\n\ndef read_all(text):\n    return yaml.full_load_all(text)\n"


@pytest.fixture
def gated(server, tmp_path: Path) -> int:
    (tmp_path / "build.py").write_text(BUILD)
    (tmp_path / "loaders.py").write_text(LOADERS)
    source = f"name: gated_{uuid.uuid4().hex[:8]}\n" + "gates: {code: {block_on: high}}\ntasks:\n  build: {run: python build.py}\n" \
             "  publish: {run: 'true', needs: [build]}\n"  # fmt: skip
    return server.api("POST", "/api/workflows/", {"source": source, "base_dir": str(tmp_path)}, role="operator")["id"]


def finished(server, run_id: int) -> dict:
    return wait_until(lambda: (r := server.run(run_id))["status"] in ("success", "failed", "cancelled") and r,
                      timeout=90, message=f"run {run_id} did not finish")  # fmt: skip


def test_triage_in_the_browser_unblocks_the_gate(page, server, gated):
    blocked = finished(server, server.api("POST", f"/api/workflows/{gated}/runs/", {}, role="operator")["id"])
    assert blocked["status"] == "failed"

    login(page, server, "triager")
    page.goto(f"{server.url}/runs/{blocked['id']}/")
    page.wait_for_selector("#gate-status.gate-blocked")
    assert "status-failed" in page.locator("svg.dag g.node[data-node='security:gate']").get_attribute("class")
    links = page.locator("#gate-blocking li a")
    assert links.count() == 3
    assert "security gate blocked the run" in page.locator("#run-message").inner_text()
    shot(page, "security_gate_blocked")

    page.locator("#gate-blocking li a", has_text="B602").click()
    page.wait_for_selector("#snippet .ln.bad")
    assert "subprocess.call" in page.locator("#snippet .ln.bad").inner_text()
    assert "shell" in page.locator("#rule-help").inner_text()
    page.select_option("#triage-form select[name=state]", "accepted_risk")
    page.fill("#triage-form textarea[name=comment]", "arguments come from our own CI config")
    page.fill("#triage-form input[name=accepted_until]", (date.today() + timedelta(days=30)).isoformat())
    page.click("#triage-form button[type=submit]")
    page.wait_for_selector("#finding-state.state-accepted_risk")
    assert page.locator("#history tbody tr").count() == 2
    assert "arguments come from our own CI config" in page.locator("#history").inner_text()
    shot(page, "security_finding_accepted")

    page.goto(f"{server.url}/findings/?tool=semgrep")
    assert page.locator("#finding-table tbody tr").count() == 2
    page.check("#select-all")
    assert page.locator("#bulk-count").inner_text() == "2 selected"
    page.select_option("#bulk-bar select[name=state]", "false_positive")
    page.fill("#bulk-bar input[name=comment]", "the YAML is our own fixture file")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#bulk-apply")
    page.wait_for_selector(".messages li.msg-success")
    assert "2 findings set to false positive" in page.locator(".messages").inner_text()
    assert "No findings match" in page.locator("#finding-table").inner_text()  # default view: open or confirmed
    shot(page, "security_findings_bulk_triaged")

    login(page, server, "operator")
    page.goto(f"{server.url}/workflows/{gated}/")
    page.click("#trigger-form button[type=submit]")
    page.wait_for_url("**/runs/*/")
    page.wait_for_selector("svg.dag g.node[data-node='security:gate'].status-success")
    page.wait_for_selector("#run-status.status-success", timeout=60000)
    assert page.locator("#gate-status").inner_text() == "passed"
    shot(page, "security_gate_passed")


def test_the_findings_list_filters_and_links_to_scans(page, server, gated):
    finished(server, server.api("POST", f"/api/workflows/{gated}/runs/", {}, role="operator")["id"])
    login(page, server, "viewer")

    page.goto(f"{server.url}/findings/?state=all")
    page.select_option("#finding-filters select[name=severity]", "high")
    page.wait_for_url("**severity=high**")
    rows = page.locator("#finding-table tbody tr")
    assert rows.count() >= 1
    assert page.locator("#bulk-bar").count() == 0  # viewers read only
    page.locator("#finding-table tbody tr a").first.click()
    page.locator("#occurrences a").first.click()
    page.wait_for_selector("#scan-findings")
    assert page.locator("#sarif-download").is_visible()
    shot(page, "security_scan_page")
