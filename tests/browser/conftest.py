"""A live Daphne server (the real `manage.py serve`, embedded mode) and Debian's Chromium.

The server runs in its own process with its own data directory; tests talk to it through the
browser, the REST API and WebSockets only, as a user would.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]  # fmt: skip
PASSWORD = "browser-pw-123"
ROLES = ("viewer", "operator", "triager", "admin")

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _manage(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


class LiveServer:
    def __init__(self, url: str, env: dict[str, str], data_dir: Path, process: subprocess.Popen):
        self.url, self.env, self.data_dir, self.process = url, env, data_dir, process
        self._tokens: dict[str, str] = {}

    def token(self, role: str) -> str:
        if role not in self._tokens:
            body = json.dumps({"username": role, "password": PASSWORD}).encode()
            request = urllib.request.Request(
                f"{self.url}/api/token/", data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                self._tokens[role] = json.load(response)["token"]
        return self._tokens[role]

    def api(self, method: str, path: str, body: Any = None, role: str = "admin") -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        request.add_header("Authorization", f"Token {self.token(role)}")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def run(self, run_id: int) -> dict[str, Any]:
        return self.api("GET", f"/api/runs/{run_id}/")


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("server-data")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PYTEST_VERSION")}
    env.update(DATA_DIR=str(data_dir), ALLOWED_HOSTS="127.0.0.1,localhost", SITE_URL=f"http://127.0.0.1:{port}")
    _manage(env, "migrate", "--noinput")
    script = "\n".join(
        [
            "from django.contrib.auth.models import Group, User",
            "from dashboard.accounts import sync_roles",
            "sync_roles()",
            f"for role in {ROLES!r}:",
            f"    u = User.objects.create_user(role, password={PASSWORD!r}, is_staff=(role == 'admin'))",
            "    u.groups.add(Group.objects.get(name=role))",
        ]
    )
    _manage(env, "shell", stdin=script)
    log = open(data_dir / "server.log", "w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--workers", "4"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    wait_until(healthy, timeout=30, message="the server did not come up")
    yield LiveServer(url, env, data_dir, process)
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    name = request.node.name.replace("/", "_")
    try:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def login(page, server: LiveServer, role: str = "operator") -> None:
    page.goto(f"{server.url}/login/")
    page.fill("input[name=username]", role)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def gates(tmp_path) -> Path:
    """A folder the tasks can see, where a test creates the files that let them go on (gate_command)."""
    tmp_path.chmod(0o777)
    return tmp_path


def start_run(server: LiveServer, source: str) -> dict:
    """Create a workflow from `source` and queue a run of it, as an operator through the API."""
    workflow_id = server.api("POST", "/api/workflows/", {"source": source}, role="operator")["id"]
    return server.api("POST", f"/api/workflows/{workflow_id}/runs/", {}, role="operator")


def gate_command(path: Path) -> str:
    """A shell snippet that blocks until the test creates `path` (the test controls the timing)."""
    return f"while [ ! -e {path} ]; do sleep 0.02; done"


class HeldRequest:
    """Holds the page's first request whose URL `matches` in the network (no answer) until
    release(): for tests of what the page does when answers come back out of order."""

    def __init__(self, page, matches: Callable[[str], bool]) -> None:
        self.page, self.matches, self.routes = page, matches, []
        page.route(matches, lambda route: self.routes.append(route))

    def sent(self):
        """A block in which the page sends the request (returns once it has)."""
        return self.page.expect_request(lambda request: self.matches(request.url))

    def release(self) -> None:
        """Let the answer go, and return once the page has handled it."""
        with self.page.expect_response(lambda response: self.matches(response.url)) as answer:
            self.routes[0].continue_()
        answer.value.finished()
        # A full turn of the page's event loop: the answer's handlers have run by then.
        self.page.evaluate("() => new Promise((done) => setTimeout(() => requestAnimationFrame(() => done()), 0))")


def open_quick_and_waiting(page, server: LiveServer, gates: Path, role: str, name: str, header: str = "") -> dict:
    """A run of two tasks, open on its page: `quick` has succeeded, `waits` runs until the test
    creates gates/end."""
    source = f"""
name: {name}
{header}
tasks:
  quick: {{run: "exit 0"}}
  waits: {{run: "{gate_command(gates / "end")}"}}
"""
    run = start_run(server, source)
    login(page, server, role)
    page.goto(f"{server.url}/runs/{run['id']}/")
    page.wait_for_selector("svg.dag g.node[data-node='quick'].status-success")
    page.wait_for_selector("svg.dag g.node[data-node='waits'].status-running")
    return run
