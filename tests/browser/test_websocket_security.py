"""WebSockets: a session is required, the Origin must be ours, and a user needs view rights."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from .conftest import login


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
def session_cookie(page, live_server):
    def for_role(role: str) -> str:
        login(page, live_server, role)
        cookies = {c["name"]: c["value"] for c in page.context.cookies()}
        page.context.clear_cookies()
        return f"sessionid={cookies['sessionid']}"

    return for_role


@pytest.fixture
def run_id(live_server) -> int:
    workflow = live_server.api("POST", "/api/workflows/", {"source": "name: ws_security\ntasks:\n  a: {run: 'true'}\n"})
    return live_server.api("POST", f"/api/workflows/{workflow['id']}/runs/", {})["id"]


def test_an_anonymous_socket_is_refused(live_server, run_id):
    origin = {"Origin": live_server.url}
    kind, detail = asyncio.run(first_message_or_close(ws_url(live_server, f"/ws/runs/{run_id}/"), origin))
    assert (kind, detail) == ("closed", 4401)
    kind, detail = asyncio.run(first_message_or_close(ws_url(live_server, "/ws/runs/"), origin))
    assert (kind, detail) == ("closed", 4401)


def test_a_cross_origin_socket_is_refused_even_with_a_session(live_server, run_id, session_cookie):
    cookie = session_cookie("viewer")
    url = ws_url(live_server, f"/ws/runs/{run_id}/")
    kind, detail = asyncio.run(first_message_or_close(url, {"Cookie": cookie, "Origin": "http://evil.example"}))
    assert kind == "rejected" and detail == 403
    kind, message = asyncio.run(first_message_or_close(url, {"Cookie": cookie, "Origin": live_server.url}))
    assert kind == "message" and message["type"] == "snapshot" and message["run"]["id"] == run_id


def test_a_user_without_a_role_is_refused(live_server, run_id, session_cookie):
    from .conftest import _manage

    _manage(
        live_server.env,
        "shell",
        stdin="from django.contrib.auth.models import User\nUser.objects.create_user('nobody', password='browser-pw-123')",
    )
    cookie = session_cookie("nobody")
    kind, detail = asyncio.run(
        first_message_or_close(
            ws_url(live_server, f"/ws/runs/{run_id}/"), {"Cookie": cookie, "Origin": live_server.url}
        )
    )
    assert (kind, detail) == ("closed", 4403)
