"""The leak matrix, as a browser sees it: while the run page watches, a task prints its secrets
in every form; no WebSocket frame the page receives, and nothing the page shows, holds any of
them (the frames do carry the masked lines). OpenBao is started here; the server under test
reads the secrets from it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import wait_until
from tests.security.providers.servers import BaoServer
from tests.security.secrets.leaks import MULTI, SINGLE, all_forms, leak_workflow, leaks, make_values, texts

from .conftest import gate_command, login, shot


@pytest.fixture(scope="module")
def bao() -> Iterator[BaoServer]:
    with BaoServer() as server:
        yield server


def test_no_websocket_frame_holds_a_secret(page, server, bao, tmp_path):
    values = make_values()
    bao.client().secrets.kv.v2.create_or_update_secret(
        path="ws/leak", secret={"one": values[SINGLE], "pem": values[MULTI]}, mount_point="secret"
    )
    server.api("POST", "/api/security/providers/", {
        "name": "ws-vault", "kind": "vault", "options": {"url": bao.url}, "credentials": {"token": bao.token},
        "scope": {"workflows": ["ws_leak"]},
    })  # fmt: skip
    tmp_path.chmod(0o777)
    gate = tmp_path / "go"
    source = leak_workflow(tmp_path, "ws_leak", "ws-vault", "ws/leak", gate=gate_command(gate))
    # An admin puts the workflow in the provider's scope (operators may not); an operator runs it.
    workflow = server.api("POST", "/api/workflows/", {"source": source, "base_dir": str(tmp_path)}, role="admin")
    run = server.api("POST", f"/api/workflows/{workflow['id']}/runs/", {}, role="operator")

    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(
        payload if isinstance(payload, str) else payload.decode("utf-8", "replace"))))  # fmt: skip
    login(page, server, "operator")
    page.goto(f"{server.url}/runs/{run['id']}/")
    page.wait_for_selector("svg.dag g.node[data-node='wait'].status-running")
    page.click("svg.dag g.node[data-node='leak']")
    gate.touch()
    page.wait_for_selector("#run-status.status-failed", timeout=60000)
    page.wait_for_function("document.querySelectorAll('#log .line').length > 40")
    wait_until(lambda: any('"kind": "run"' in f or '"kind":"run"' in f for f in frames), message="no run event seen")
    shot(page, "secrets_leak_run_page")

    forms = all_forms(values)
    assert any(f"{SINGLE} base64: ***" in frame for frame in frames)  # the masked lines were sent live
    decoded = [json.loads(frame) for frame in frames]
    assert leaks([(f"frame {i}", frame) for i, frame in enumerate(frames)], forms) == []
    assert leaks([(f"decoded frame {i}", list(texts(d))) for i, d in enumerate(decoded)], forms) == []
    assert leaks([("page", page.inner_text("body")), ("html", page.content())], forms) == []
