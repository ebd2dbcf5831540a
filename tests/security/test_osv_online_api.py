"""OSV's HTTP API (used only with OSV_ONLINE=1): the querybatch request, 1,000 queries at most per
request, and each vulnerability fetched by id. No OSV server can run here and tests are offline:
this is a local HTTP server speaking OSV's v1 API (POST /v1/querybatch, GET /v1/vulns/{id}),
answering with real advisories from the local PyPA mirror in ../shared/data."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from security.scanners.manifests import Pin
from security.scanners.osv import OsvApi, load_record, match

MIRROR = Path(__file__).resolve().parents[3] / "shared" / "data" / "osv-pypa" / "vulns"
ANSWERS = {("django", "3.2.0"): ["PYSEC-2021-98", "PYSEC-2022-1"]}  # what the fake service says is affecting


@pytest.fixture
def osv_service():
    seen: dict[str, list] = {"batches": [], "fetched": []}

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path != "/v1/querybatch" or self.headers["Content-Type"] != "application/json":
                return self._send(404, {"code": 5, "message": "Not Found"})
            seen["batches"].append(body["queries"])
            results = []
            for query in body["queries"]:
                package = query["package"]
                assert package["ecosystem"] == "PyPI"
                ids = ANSWERS.get((package["name"].lower(), query["version"]), [])
                results.append({"vulns": [{"id": i, "modified": "2024-01-01T00:00:00Z"} for i in ids]} if ids else {})
            return self._send(200, {"results": results})

        def do_GET(self) -> None:  # noqa: N802
            vuln_id = self.path.removeprefix("/v1/vulns/")
            files = list(MIRROR.glob(f"*/{vuln_id}.yaml"))
            if not self.path.startswith("/v1/vulns/") or not files:
                return self._send(404, {"code": 5, "message": "Bug not found."})
            seen["fetched"].append(vuln_id)
            return self._send(200, load_record(files[0].read_bytes(), files[0].name))

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()


def test_pins_are_asked_in_batches_and_each_vulnerability_fetched(osv_service):
    url, seen = osv_service
    pins = [Pin("Django", "3.2.0", "requirements.txt", 1)] + [
        Pin(f"package-{i}", "1.0", "requirements.txt", i + 2) for i in range(1000)
    ] + [Pin("requests", None, "requirements.txt", 1003, spec="requests>=2")]  # fmt: skip
    api = OsvApi(url, timeout=5)
    found = api.advisories_for_pins(pins)
    assert [len(batch) for batch in seen["batches"]] == [1000, 1]  # unpinned ones are not asked about
    assert seen["batches"][0][0] == {"package": {"name": "Django", "ecosystem": "PyPI"}, "version": "3.2.0"}
    assert sorted(seen["fetched"]) == ANSWERS[("django", "3.2.0")]
    assert sorted(a.id for a in found["django"]) == ANSWERS[("django", "3.2.0")]
    matched = match(pins, type("Source", (), {"advisories_for": lambda self, keys: found})())
    assert {m.advisory.id for m in matched} <= set(ANSWERS[("django", "3.2.0")])
    assert matched and all(m.pin.key == "django" for m in matched)
