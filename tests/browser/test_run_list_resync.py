"""The run list and the overview over a real WebSocket that drops: whatever happened while it was
down (a run finishing, a run starting) shows once it reconnects by itself, with no reload and no
doubled rows; on the overview a finished run leaves "going on now"."""

from __future__ import annotations

from tests.conftest import wait_until

from .conftest import gate_command, login, shot, start_run


def wait_for_status(server, run_id: int, status: str) -> None:
    wait_until(lambda: server.run(run_id)["status"] == status, timeout=20, message=f"run {run_id} never {status}")


class Outage:
    """The page's live sockets pass through Playwright to the server; while an outage lasts, every
    reconnect is refused at once, as by a proxy whose backend is gone, so the page keeps retrying
    on its own backoff until the outage ends."""

    def __init__(self, page) -> None:
        self.page, self.down, self.refused = page, False, 0
        page.route_web_socket("**/ws/runs/**", self._route)

    def _route(self, socket) -> None:
        if self.down:
            self.refused += 1
            socket.close(code=1011, reason="server away")
        else:
            socket.connect_to_server()

    def begin(self) -> None:
        self.down = True
        self.page.evaluate("window.__live.drop()")
        self.page.wait_for_function("document.getElementById('live-state').textContent !== 'live'")

    def end(self) -> None:
        # Route handlers run while the sync API talks to the browser: evaluate() lets them.
        wait_until(
            lambda: self.page.evaluate("true") and self.refused >= 1,
            timeout=10,
            message="the page never tried to reconnect",
        )
        self.down = False
        self.page.wait_for_function("document.getElementById('live-state').textContent === 'live'")


def test_the_run_list_catches_up_after_a_dropped_socket(page, server, gates):
    finishing = start_run(
        server, f"name: list_resync_finish\ntasks:\n  wait: {{run: '{gate_command(gates / 'go')}'}}\n"
    )
    outage = Outage(page)
    login(page, server, "viewer")
    page.goto(f"{server.url}/runs/")
    page.wait_for_selector(f"tr[data-run='{finishing['id']}'] .badge.status-running")

    outage.begin()
    (gates / "go").touch()
    wait_for_status(server, finishing["id"], "success")
    started = start_run(server, "name: list_resync_new\ntasks:\n  a: {run: 'true'}\n")
    wait_for_status(server, started["id"], "success")
    assert "status-running" in page.locator(f"tr[data-run='{finishing['id']}'] .badge").get_attribute("class")
    outage.end()

    page.wait_for_selector(f"tr[data-run='{finishing['id']}'] .badge.status-success")
    page.wait_for_selector(f"tr[data-run='{started['id']}'] .badge.status-success")
    assert page.locator(f"tr[data-run='{finishing['id']}']").count() == 1
    assert page.locator(f"tr[data-run='{finishing['id']}'] [data-field=duration]").get_attribute("data-finished")
    assert page.locator(f"tr[data-run='{started['id']}']").count() == 1
    ids = [
        int(i)
        for i in page.locator("table.runs tbody tr[data-run]").evaluate_all("rows => rows.map(r => r.dataset.run)")
    ]
    assert ids[:2] == [started["id"], finishing["id"]]  # the new run on top, newest first
    assert "list_resync_new" in page.locator(f"tr[data-run='{started['id']}']").inner_text()
    shot(page, "run_list_resynced")


def test_the_overview_moves_finished_runs_out_of_going_on_now(page, server, gates):
    live = start_run(server, f"name: overview_live\ntasks:\n  wait: {{run: '{gate_command(gates / 'live')}'}}\n")
    away = start_run(server, f"name: overview_away\ntasks:\n  wait: {{run: '{gate_command(gates / 'away')}'}}\n")
    outage = Outage(page)
    login(page, server, "viewer")
    active = "table[data-live-runs='active']"
    finished = "table[data-live-runs='finished']"
    for run in (live, away):
        page.wait_for_selector(f"{active} tr[data-run='{run['id']}'] .badge.status-running")
    count = int(page.locator("#active-count").inner_text())

    # While connected: the event moves the row.
    (gates / "live").touch()
    page.wait_for_selector(f"{finished} tr[data-run='{live['id']}'] .badge.status-success")
    assert page.locator(f"tr[data-run='{live['id']}']").count() == 1
    page.wait_for_function(f"document.getElementById('active-count').textContent === '{count - 1}'")

    # While away: the snapshot after the reconnect moves it.
    outage.begin()
    (gates / "away").touch()
    wait_for_status(server, away["id"], "success")
    started = start_run(server, "name: overview_new\ntasks:\n  a: {run: 'true'}\n")
    wait_for_status(server, started["id"], "success")
    outage.end()

    page.wait_for_selector(f"{finished} tr[data-run='{away['id']}'] .badge.status-success")
    page.wait_for_selector(f"{finished} tr[data-run='{started['id']}'] .badge.status-success")
    for run in (live, away, started):
        assert page.locator(f"tr[data-run='{run['id']}']").count() == 1
        assert page.locator(f"{active} tr[data-run='{run['id']}']").count() == 0
    assert page.locator("#active-count").inner_text() == str(count - 2)
    ids = [
        int(i)
        for i in page.locator(f"{finished} tbody tr[data-run]").evaluate_all("rows => rows.map(r => r.dataset.run)")
    ]
    assert ids[:3] == [started["id"], away["id"], live["id"]]
    assert page.locator(f"{finished} tbody tr[data-run]").count() <= 20
    shot(page, "overview_resynced")
