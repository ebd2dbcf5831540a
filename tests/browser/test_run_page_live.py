"""The run page over a real WebSocket: nodes change colour, logs stream, resync after a drop."""

from __future__ import annotations

from tests.conftest import wait_until

from .conftest import gate_command, login, shot


def create_workflow(server, source: str) -> int:
    return server.api("POST", "/api/workflows/", {"source": source}, role="operator")["id"]


def node_class(page, node: str) -> str:
    return page.locator(f"svg.dag g.node[data-node='{node}']").get_attribute("class")


def test_nodes_go_running_then_success_live(page, server, gates):
    source = f"""
name: live_colours
tasks:
  first: {{run: "{gate_command(gates / "first")}"}}
  second: {{run: "{gate_command(gates / "second")}", needs: [first]}}
"""
    workflow_id = create_workflow(server, source)
    login(page, server, "operator")
    page.goto(f"{server.url}/workflows/{workflow_id}/")
    page.click("#trigger-form button[type=submit]")
    page.wait_for_url("**/runs/*/")
    page.wait_for_selector("svg.dag g.node[data-node='first'].status-running")
    assert "status-pending" in node_class(page, "second")
    shot(page, "run_first_running")
    (gates / "first").touch()
    page.wait_for_selector("svg.dag g.node[data-node='first'].status-success")
    page.wait_for_selector("svg.dag g.node[data-node='second'].status-running")
    (gates / "second").touch()
    page.wait_for_selector("#run-status.status-success")
    assert "status-success" in node_class(page, "second")
    assert page.locator("#counts").inner_text() == "2 success"
    assert page.locator("#rerun-all-form").is_visible()
    shot(page, "run_finished")


def test_a_task_log_streams_while_it_runs(page, server, gates):
    source = f"""
name: live_log
tasks:
  talk: {{run: "echo one; echo two; {gate_command(gates / "more")}; echo three; echo four >&2; {gate_command(gates / "end")}"}}
"""
    workflow_id = create_workflow(server, source)
    run = server.api("POST", f"/api/workflows/{workflow_id}/runs/", {}, role="operator")
    login(page, server, "viewer")
    page.goto(f"{server.url}/runs/{run['id']}/")
    page.wait_for_selector("svg.dag g.node[data-node='talk'].status-running")
    page.click("svg.dag g.node[data-node='talk']")
    page.wait_for_function("document.querySelectorAll('#log .line').length === 2")
    (gates / "more").touch()
    page.wait_for_function("document.querySelectorAll('#log .line').length === 4")
    texts = page.locator("#log .line .t").all_inner_texts()
    assert texts == ["one", "two", "three", "four"]
    assert "stderr" in page.locator("#log .line").nth(3).get_attribute("class").split()
    assert page.locator("#panel-status").inner_text() == "running"
    page.fill("#log-search", "th")
    assert page.locator("#log .line:not(.hidden)").count() == 1
    shot(page, "run_log_streaming")
    (gates / "end").touch()
    page.wait_for_selector("#panel-status.status-success")


def test_a_dropped_socket_resyncs_with_nothing_missing_or_doubled(page, server, gates):
    lines = " ".join(f"echo line{i};" for i in range(1, 6))
    later = " ".join(f"echo line{i};" for i in range(6, 11))
    source = f"""
name: live_resync
tasks:
  a: {{run: "{lines} {gate_command(gates / "a")}; {later}"}}
  b: {{run: "echo b", needs: [a]}}
  c: {{run: "{gate_command(gates / "c")}", needs: [b]}}
"""
    workflow_id = create_workflow(server, source)
    run = server.api("POST", f"/api/workflows/{workflow_id}/runs/", {}, role="operator")
    login(page, server, "viewer")
    page.goto(f"{server.url}/runs/{run['id']}/")
    page.click("svg.dag g.node[data-node='a']")
    page.wait_for_function("document.querySelectorAll('#log .line').length === 5")
    # Drop the socket and keep it down while the run moves on: a finishes, b runs, c starts.
    page.evaluate("window.__live.pause()")
    page.wait_for_function("document.getElementById('live-state').textContent !== 'live'")
    (gates / "a").touch()
    wait_until(
        lambda: (
            server.run(run["id"])["counts"].get("running") == 1
            and any(t["node_id"] == "c" and t["status"] == "running" for t in server.run(run["id"])["tasks"])
        ),
        timeout=15,
        message="c never started",
    )
    assert "status-running" in node_class(page, "a")  # the page has not heard yet
    page.evaluate("window.__live.resume()")
    page.wait_for_selector("svg.dag g.node[data-node='c'].status-running")
    assert "status-success" in node_class(page, "a") and "status-success" in node_class(page, "b")
    page.wait_for_function("document.querySelectorAll('#log .line').length === 10")
    numbers = page.locator("#log .line .n").all_inner_texts()
    assert numbers == [str(i) for i in range(1, 11)]
    assert page.locator("#log .line .t").all_inner_texts() == [f"line{i}" for i in range(1, 11)]
    (gates / "c").touch()
    page.wait_for_selector("#run-status.status-success")
    assert page.locator("#task-table tbody tr").count() == 3
    shot(page, "run_resynced")


def test_cancel_a_run_from_the_page(page, server, gates):
    source = f"""
name: live_cancel
tasks:
  wait: {{run: "{gate_command(gates / "never")}"}}
  after: {{run: "true", needs: [wait]}}
"""
    workflow_id = create_workflow(server, source)
    run = server.api("POST", f"/api/workflows/{workflow_id}/runs/", {}, role="operator")
    login(page, server, "operator")
    page.goto(f"{server.url}/runs/{run['id']}/")
    page.wait_for_selector("svg.dag g.node[data-node='wait'].status-running")
    page.click("#cancel-form button")
    page.wait_for_selector("#run-status.status-cancelled")
    page.wait_for_selector("svg.dag g.node[data-node='wait'].status-cancelled")
    assert "status-cancelled" in node_class(page, "after")
    assert "cancelled by operator" in page.locator("#run-message").inner_text()
    shot(page, "run_cancelled")


def test_rerun_failed_tasks_from_the_page(page, server, gates):
    flag = gates / "fixed"
    source = f"""
name: live_rerun
tasks:
  ok: {{run: "echo value=42 >> $RUNNER_OUTPUT"}}
  flaky: {{run: "test -e {flag}", needs: [ok]}}
  after: {{run: "echo got ${{{{ tasks.ok.outputs.value }}}}", needs: [flaky]}}
"""
    workflow_id = create_workflow(server, source)
    run = server.api("POST", f"/api/workflows/{workflow_id}/runs/", {}, role="operator")
    login(page, server, "operator")
    page.goto(f"{server.url}/runs/{run['id']}/")
    page.wait_for_selector("#run-status.status-failed")
    assert "status-upstream_failed" in node_class(page, "after")
    flag.touch()
    page.click("#rerun-failed-form button")
    page.wait_for_url(lambda url: url.rstrip("/").split("/")[-1] != str(run["id"]))
    page.wait_for_selector("#run-status.status-success")
    assert page.locator("#task-table tr[data-node='ok'] .tag").inner_text() == "reused"
    new_id = int(page.url.rstrip("/").split("/")[-1].split("#")[0])
    after = next(t for t in server.run(new_id)["tasks"] if t["node_id"] == "after")
    logs = server.api("GET", f"/api/taskruns/{after['id']}/logs/")
    assert [line["text"] for line in logs["lines"]] == ["got 42"]
    shot(page, "run_rerun_failed")


def test_the_run_list_shows_new_runs_live(page, server):
    workflow_id = create_workflow(server, "name: live_list\ntasks:\n  a: {run: 'true'}\n")
    login(page, server, "viewer")
    page.goto(f"{server.url}/runs/")
    page.wait_for_function("document.getElementById('live-state').textContent === 'live'")
    run = server.api("POST", f"/api/workflows/{workflow_id}/runs/", {}, role="operator")
    row = page.locator(f"tr[data-run='{run['id']}']")
    row.wait_for()
    page.wait_for_selector(f"tr[data-run='{run['id']}'] .badge.status-success")
    assert "live_list" in row.inner_text()
