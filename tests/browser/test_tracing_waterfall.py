"""The run's waterfall in a real browser: it grows while the run goes on (the task's own script's
spans included), a click shows a span's attributes and events, and its link opens the log."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import gate_command, login, shot

CHILD = Path(__file__).resolve().parents[1] / "tracing" / "instrumented_child.py"


@pytest.fixture
def workdir(tmp_path) -> Path:
    tmp_path.chmod(0o777)
    shutil.copy(CHILD, tmp_path / "child.py")
    return tmp_path


def rows(page) -> list[str]:
    return page.locator("#run-waterfall .wf-row .wf-name").all_inner_texts()


def test_the_waterfall_grows_while_the_run_goes_on(page, server, workdir):
    source = f"""
name: waterfall_live
tasks:
  extract: {{run: "{gate_command(workdir / "extract")} && python child.py 0.05"}}
  load: {{run: "{gate_command(workdir / "load")}", needs: [extract], retry: {{max_attempts: 1}}}}
  report: {{run: "true", needs: [load], skip_if: "load.exit_code == 0"}}
"""
    workflow = server.api("POST", "/api/workflows/", {"source": source, "base_dir": str(workdir)}, role="admin")
    run = server.api("POST", f"/api/workflows/{workflow['id']}/runs/", {}, role="operator")
    login(page, server, "viewer")
    page.goto(f"{server.url}/runs/{run['id']}/")

    # The run and its first task, both running, their bars growing with the clock.
    page.wait_for_selector("#run-waterfall .wf-row.state-running >> text=extract")
    assert rows(page) == ["run waterfall_live #1", "extract"]
    # Growing with the clock: the running bar's duration counts up (its width is a share of the
    # run's own growing span, so with a task that starts right after the run it is near full
    # width from the first frame and cannot show the growth).
    label = "#run-waterfall .wf-row:nth-child(2) .wf-dur"
    first = page.locator(label).inner_text()
    assert first.endswith("…"), first
    page.wait_for_function(
        "([sel, s]) => { const t = document.querySelector(sel).textContent;"
        " return t.endsWith('…') && parseFloat(t) >= parseFloat(s) + 0.5; }",
        arg=[label, first],
    )
    assert (
        page.locator("#run-waterfall .wf-row:nth-child(2) .wf-bar").evaluate("b => b.getBoundingClientRect().width") > 0
    )
    shot(page, "waterfall_first_task_running")

    # The task's script reports its own spans; they nest under the task's span, live.
    (workdir / "extract").touch()
    page.wait_for_selector("#run-waterfall .wf-row.state-running >> text=load")
    page.wait_for_selector("#run-waterfall .wf-row.child >> text=parse")
    assert rows(page) == ["run waterfall_live #1", "extract", "load rows", "parse", "load"]
    assert (
        page.locator("#run-waterfall .wf-row:has-text('extract')").first.get_attribute("class").split()[1] == "state-ok"
    )

    (workdir / "load").touch()
    page.wait_for_selector("#run-status.status-success")
    page.wait_for_selector("#run-waterfall .wf-row.state-skipped >> text=report")
    page.wait_for_function("document.querySelector('#trace-summary .badge').textContent === 'kept'")
    assert page.locator("#run-waterfall .wf-row.state-running").count() == 0
    shot(page, "waterfall_finished")

    # A span's details: its attributes and events, and a link to its task's log lines.
    page.locator("#run-waterfall .wf-row:has-text('report')").click()
    detail = page.locator("#run-waterfall-detail")
    assert "skip_if: load.exit_code == 0" in detail.inner_text()
    page.locator("#run-waterfall .wf-row:has-text('load rows')").click()
    assert "rows" in detail.locator(".wf-attrs").inner_text() and "batch read" in detail.inner_text()
    detail.locator("a.wf-log-link").click()
    page.wait_for_selector("#panel:not([hidden])")
    assert page.locator("#panel-title").inner_text() == "extract"
    page.wait_for_function("document.querySelectorAll('#log .line').length >= 1")
    assert "done" in page.locator("#log").inner_text()
    shot(page, "waterfall_span_detail_and_log")


def test_the_trace_page_compares_two_runs(page, server, workdir):
    source = 'name: waterfall_compare\ntasks:\n  a: {run: "sleep 0.1"}\n  b: {run: "true", needs: [a]}\n'
    workflow = server.api("POST", "/api/workflows/", {"source": source}, role="operator")
    first = server.api("POST", f"/api/workflows/{workflow['id']}/runs/", {}, role="operator")
    second = server.api("POST", f"/api/workflows/{workflow['id']}/runs/", {}, role="operator")
    from tests.conftest import wait_until

    for run in (first, second):
        wait_until(lambda run=run: server.run(run["id"])["status"] == "success", timeout=30)
    trace = server.api("GET", f"/api/tracing/traces/?run={second['id']}", role="viewer")["results"][0]
    login(page, server, "viewer")
    page.goto(f"{server.url}{trace['url']}")
    page.wait_for_selector("#trace-waterfall .wf-row >> text=b")
    assert page.locator("#trace-waterfall .wf-row").count() == 3
    page.click("form.compare-with button[type=submit]")
    page.wait_for_selector("#compare-table")
    assert page.locator("#waterfall-a .wf-row").count() == page.locator("#waterfall-b .wf-row").count() == 3
    page.locator("#compare-table tbody tr", has_text="a").first.click()
    page.wait_for_selector("#waterfall-a .wf-row.selected")
    page.wait_for_selector("#waterfall-b .wf-row.selected")
    shot(page, "trace_compare")
