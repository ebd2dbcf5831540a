"""The run page's node panel and header, live: the elapsed time ticks while the run goes on and
stops when it ends; a task's panel shows its attempts (a failed one, then the retry), exit code,
durations, CPU and memory and its outputs; the log follows new lines only while Follow is on."""

from __future__ import annotations

import re

from .conftest import HeldRequest, gate_command, login, open_quick_and_waiting, shot
from .test_run_page_live import create_workflow


def test_the_panel_shows_attempts_outputs_and_follows_the_log(page, server, gates):  # noqa: F811
    flaky = f"test -e {gates}/tried || {{ touch {gates}/tried; exit 3; }}"  # fails once, then succeeds
    source = f"""
name: panel_facts
tasks:
  work:
    run: "{flaky}; for i in $(seq 1 200); do echo line $i; done; echo rows=42 >> $RUNNER_OUTPUT; {gate_command(gates / "more")}; echo after the gate"
    retry: {{max_attempts: 2, initial_delay: 0.01}}
  done: {{run: "{gate_command(gates / "end")}", needs: [work]}}
"""
    workflow_id = create_workflow(server, source)
    login(page, server, "operator")
    page.goto(f"{server.url}/workflows/{workflow_id}/")
    page.click("#trigger-form button[type=submit]")
    page.wait_for_url("**/runs/*/")
    page.wait_for_selector("svg.dag g.node[data-node='work'].status-running")

    # The header's clock ticks while the run goes on.
    first = page.locator("#elapsed").inner_text()
    page.wait_for_function("t => document.getElementById('elapsed').textContent !== t", arg=first, timeout=10000)

    page.click("svg.dag g.node[data-node='work']")
    page.wait_for_function("document.querySelectorAll('#log .line').length >= 200", timeout=30000)
    box = page.locator("#log")
    # Following: the box is scrolled to its end. Then Follow off: a new line does not move it.
    page.wait_for_function(
        "(() => { const b = document.getElementById('log'); return b.scrollTop + b.clientHeight >= b.scrollHeight - 2; })()"
    )
    page.uncheck("#log-follow")
    box.evaluate("b => b.scrollTop = 0")
    (gates / "more").touch()
    page.wait_for_selector("#log .line >> text=after the gate")
    assert box.evaluate("b => b.scrollTop") == 0
    page.check("#log-follow")

    page.wait_for_selector("svg.dag g.node[data-node='work'].status-success")
    page.click("svg.dag g.node[data-node='done']")
    page.click("svg.dag g.node[data-node='work']")
    # What is stored first (should this fail, the page is not to blame), then what the page shows.
    run = server.run(int(page.url.split("/runs/")[1].split("/")[0]))
    work = next(t for t in run["tasks"] if t["node_id"] == "work")
    stored = server.api("GET", f"/api/taskruns/{work['id']}/", role="operator")["attempts"]
    assert [(a["number"], a["status"], a["exit_code"]) for a in stored] == [(1, "failed", 3), (2, "success", 0)]
    page.wait_for_function("document.querySelectorAll('#panel-attempts tbody tr').length === 2")
    attempts = [row.inner_text().split("\t") for row in page.locator("#panel-attempts tbody tr").all()]
    assert [(a[0], a[1], a[2]) for a in attempts] == [("1", "failed", "3"), ("2", "success", "0")]
    assert all(re.fullmatch(r"[\d.]+\s?(ms|s)", a[3].strip()) for a in attempts), attempts  # wall time
    facts = dict(row.inner_text().split("\t", 1) for row in page.locator("#panel-facts tr").all())
    assert facts["Attempts"] == "2" and facts["Exit code"] == "0"
    assert facts["Wall time"] != "–" and facts["CPU time"] != "–" and facts["Peak memory"] != "–"
    outputs = dict(row.inner_text().split("\t", 1) for row in page.locator("#panel-outputs tr").all())
    assert outputs == {"rows": "42"}
    shot(page, "run_panel_facts")

    (gates / "end").touch()
    page.wait_for_selector("#run-status.status-success")
    # The moment the run ends, the clock shows its final time (finished - started), not a tick.
    clock = page.evaluate(
        "() => { const c = document.getElementById('elapsed');"
        " return [c.textContent, c.dataset.started, c.dataset.finished]; }"
    )
    text, started, finished = clock
    assert finished, clock
    seconds = page.evaluate("([s, f]) => (Date.parse(f) - Date.parse(s)) / 1000", [started, finished])
    assert text == (f"{seconds:.2f}s" if seconds < 10 else f"{seconds:.1f}s"), clock


def test_a_late_answer_for_the_task_opened_before_does_not_fill_the_panel(page, server, gates):
    """Open `waits` (its details held back in the network), then `quick`: when the held answer
    arrives after quick's, the panel keeps quick's attempts (it showed waits' running attempt)."""
    run = open_quick_and_waiting(page, server, gates, "operator", "panel_race")
    waits_id = next(t["id"] for t in server.run(run["id"])["tasks"] if t["node_id"] == "waits")
    held = HeldRequest(page, lambda url: url.endswith(f"/api/taskruns/{waits_id}/"))
    with held.sent():
        page.click("svg.dag g.node[data-node='waits']")
    page.click("svg.dag g.node[data-node='quick']")
    page.wait_for_function("document.querySelectorAll('#panel-attempts tbody tr').length === 1")
    rows = lambda: [r.inner_text().split("\t")[:3] for r in page.locator("#panel-attempts tbody tr").all()]  # noqa: E731
    assert rows() == [["1", "success", "0"]]

    held.release()
    assert rows() == [["1", "success", "0"]]
    assert page.locator("#panel-title").inner_text() == "quick"
    (gates / "end").touch()
    page.wait_for_selector("#run-status.status-success")
