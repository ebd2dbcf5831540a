"""WebSockets: a session is required, the Origin must be ours, and a user needs view rights."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import websockets

from .conftest import login


def attempt(url: str, headers: dict[str, str]) -> tuple[str, object]:
    """Run one connection attempt on a thread of its own (Playwright's loop owns this thread)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, first_message_or_close(url, headers)).result()


def ws_url(server, path: str) -> str:
    return server.url.replace("http://", "ws://") + path


async def first_message_or_close(url: str, headers: dict[str, str]) -> tuple[str, object]:
    """('message', data), ('closed', code) or ('rejected', http status) for one connection attempt."""
    try:
        async with websockets.connect(url, additional_headers=headers, open_timeout=10) as socket:
            try:
                return "message", json.loads(await asyncio.wait_for(socket.recv(), 10))
            except websockets.ConnectionClosed as closed:
                return "closed", closed.rcvd.code if closed.rcvd else None
    except websockets.InvalidStatus as exc:
        return "rejected", exc.response.status_code


@pytest.fixture
def session_cookie(page, server):
    def for_role(role: str) -> str:
        login(page, server, role)
        cookies = {c["name"]: c["value"] for c in page.context.cookies()}
        page.context.clear_cookies()
        return f"sessionid={cookies['sessionid']}"

    return for_role


@pytest.fixture(scope="module")
def run_id(server) -> int:
    workflow = server.api("POST", "/api/workflows/", {"source": "name: ws_security\ntasks:\n  a: {run: 'true'}\n"})
    return server.api("POST", f"/api/workflows/{workflow['id']}/runs/", {})["id"]


def test_an_anonymous_socket_is_refused(server, run_id):
    origin = {"Origin": server.url}
    kind, detail = attempt(ws_url(server, f"/ws/runs/{run_id}/"), origin)
    assert (kind, detail) == ("closed", 4401)
    kind, detail = attempt(ws_url(server, "/ws/runs/"), origin)
    assert (kind, detail) == ("closed", 4401)


def test_a_cross_origin_socket_is_refused_even_with_a_session(server, run_id, session_cookie):
    cookie = session_cookie("viewer")
    url = ws_url(server, f"/ws/runs/{run_id}/")
    kind, detail = attempt(url, {"Cookie": cookie, "Origin": "http://evil.example"})
    assert kind == "rejected" and detail == 403
    kind, message = attempt(url, {"Cookie": cookie, "Origin": server.url})
    assert kind == "message" and message["type"] == "snapshot" and message["run"]["id"] == run_id


def test_a_user_without_a_role_is_refused(server, run_id, session_cookie):
    from .conftest import _manage

    _manage(
        server.env,
        "shell",
        stdin="from django.contrib.auth.models import User\nUser.objects.create_user('nobody', password='browser-pw-123')",
    )
    cookie = session_cookie("nobody")
    kind, detail = attempt(ws_url(server, f"/ws/runs/{run_id}/"), {"Cookie": cookie, "Origin": server.url})
    assert (kind, detail) == ("closed", 4403)
