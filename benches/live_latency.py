"""Live-update latency to 50 browsers, against a bare channel-layer group_send, in one run.

The dashboard runs in this process exactly as `manage.py serve` runs it (Daphne, the embedded
Huey consumer, the in-memory channel layer); 50 WebSocket clients run in a child process.
  - ours: a task's state change (its finished_at, stamped when the executor decides it) until
    each client has the event;
  - floor: a bare group_send of a timestamp to the same group, on the same event loop, until
    each client has it.
Then the run-list page is timed with 1,000 and with 100,000 runs in the database.

    .venv/bin/python benches/live_latency.py [--clients 50] [--tasks 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Python puts this folder first on sys.path, where secrets.py and costs.py would shadow the
# standard library's `secrets` and the `costs` app.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benches"]
sys.path.insert(0, str(ROOT))


# ------------------------------------------------------------------ the clients (child process)


async def clients_main(url: str, origin: str, cookie: str, count: int) -> None:
    import websockets

    received: list[tuple[float, dict]] = []
    ready = 0

    async def client() -> None:
        nonlocal ready
        async with websockets.connect(url, additional_headers={"Cookie": cookie, "Origin": origin}) as ws:
            first = json.loads(await ws.recv())
            assert first["type"] == "snapshot", first
            ready += 1
            if ready == count:
                print("ready", flush=True)
            while True:  # until this client has heard that the run ended
                raw = await asyncio.wait_for(ws.recv(), 120)
                now = time.time()
                for event in json.loads(raw).get("events", []):
                    if event.get("kind") == "bench" or (
                        event.get("kind") == "task" and event.get("status") == "success"
                    ):
                        received.append((now, event))
                    if event.get("kind") == "run" and event.get("status") in ("success", "failed", "cancelled"):
                        return

    await asyncio.gather(*(client() for _ in range(count)))
    out = []
    for now, event in received:
        if event["kind"] == "bench":
            out.append(["floor", now - event["sent"]])
        else:
            out.append(["ours", now - datetime.fromisoformat(event["finished_at"]).timestamp()])
    print(json.dumps(out), flush=True)


# ------------------------------------------------------------------ the server side (this process)


def setup_django() -> None:
    os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="bench-live-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def start_server(port: int) -> asyncio.AbstractEventLoop:
    from daphne.endpoints import build_endpoint_description_strings
    from daphne.server import Server

    from dashboard.asgi import application
    from dashboard.management.commands.serve import start_embedded_consumer

    start_embedded_consumer(workers=2)
    server = Server(
        application=application,
        endpoints=build_endpoint_description_strings(host="127.0.0.1", port=port),
        signal_handlers=False,
        verbosity=0,
    )
    threading.Thread(target=server.run, name="daphne", daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    import twisted.internet.reactor as reactor

    return reactor._asyncioEventloop  # the loop Daphne (and our publisher) run on


def login(base: str) -> str:
    from django.contrib.auth.models import User

    User.objects.create_superuser("bench", password="bench-pw")
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login/").read().decode()
    token = page.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    data = f"csrfmiddlewaretoken={token}&username=bench&password=bench-pw".encode()
    request = urllib.request.Request(f"{base}/login/", data=data, headers={"Referer": f"{base}/login/"})
    opener.open(request).read()
    return "; ".join(f"{c.name}={c.value}" for c in jar if c.name == "sessionid")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def measure_live(base: str, loop: asyncio.AbstractEventLoop, clients: int, tasks: int) -> dict[str, list[float]]:
    from channels.layers import get_channel_layer

    from dashboard.events import message as events_message
    from dashboard.events import run_group
    from tests.conftest import make_workflow
    from workflows import runner
    from workflows.models import Run

    gate = Path(tempfile.mkdtemp()) / "go"
    lines = [f'  t0: {{run: "while [ ! -e {gate} ]; do sleep 0.01; done"}}']
    lines += [
        f'  t{i}: {{run: "sleep {os.environ.get("BENCH_SLEEP", "0.03")}", needs: [t{i - 1}]}}' for i in range(1, tasks)
    ]
    workflow = make_workflow("name: latency\nmax_parallel: 1\ntasks:\n" + "\n".join(lines) + "\n")
    run = runner.create_run(workflow, trigger="api")
    cookie = login(base)
    child = subprocess.Popen(
        [sys.executable, __file__, "--clients-only", f"{base.replace('http', 'ws')}/ws/runs/{run.pk}/", base, cookie,
         str(clients)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout.readline().strip() == "ready"
    layer = get_channel_layer()
    group = run_group(run.pk)
    for _ in range(tasks):  # the floor, interleaved in time with nothing else going on
        message = events_message(group, [{"kind": "bench", "sent": time.time()}])
        asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop).result()
        time.sleep(0.03)
    gate.touch()
    out, _ = child.communicate(timeout=300)
    assert Run.objects.get(pk=run.pk).status == Run.SUCCESS
    samples: dict[str, list[float]] = {"floor": [], "ours": []}
    for kind, seconds in json.loads(out.strip().splitlines()[-1]):
        samples[kind].append(seconds * 1000)
    return samples


def time_run_list(base: str, cookie: str, runs: int, repeat: int = 15) -> float:
    from django.utils import timezone

    from tests.conftest import make_workflow
    from workflows.models import Run, Workflow

    workflow = Workflow.objects.filter(name="listing").first() or make_workflow("name: listing\ntasks:\n  a: 'true'\n")
    version = workflow.versions.get()
    have = Run.objects.count()
    start = (
        Run.objects.filter(workflow=workflow).order_by("-number").values_list("number", flat=True).first() or 0
    ) + 1
    statuses = ["success", "failed", "success", "cancelled", "success"]
    batch = []
    for n in range(start, start + max(0, runs - have)):
        batch.append(Run(workflow=workflow, workflow_version=version, number=n, status=statuses[n % 5],
                         finished_at=timezone.now()))  # fmt: skip
        if len(batch) == 5000:
            Run.objects.bulk_create(batch)
            batch = []
    Run.objects.bulk_create(batch)
    timings = []
    for path in ["/runs/", "/runs/?status=failed", f"/runs/?workflow={workflow.pk}"] * repeat:
        request = urllib.request.Request(f"{base}{path}", headers={"Cookie": cookie})
        begin = time.perf_counter()
        body = urllib.request.urlopen(request).read()
        timings.append(time.perf_counter() - begin)
        assert b"data-run=" in body
    return statistics.median(timings) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--tasks", type=int, default=60)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    setup_django()
    loop = start_server(args.port)
    base = f"http://127.0.0.1:{args.port}"
    samples = measure_live(base, loop, args.clients, args.tasks)
    floor, ours = samples["floor"], samples["ours"]
    print(f"live events to {args.clients} WebSocket clients (embedded mode), ms:")
    for name, values in (("bare group_send", floor), ("task state change", ours)):
        print(f"  {name:18s} n={len(values):5d}  p50 {percentile(values, 50):6.2f}  p95 {percentile(values, 95):6.2f}")
    print(
        f"  ratio p50 {percentile(ours, 50) / percentile(floor, 50):.2f}  p95 {percentile(ours, 95) / percentile(floor, 95):.2f}"
    )
    cookie = login_again(base)
    small = time_run_list(base, cookie, 1000)
    large = time_run_list(base, cookie, 100_000)
    print(f"run list page: 1,000 runs {small:.1f} ms, 100,000 runs {large:.1f} ms, ratio {large / small:.2f}")
    os._exit(0)


def login_again(base: str) -> str:
    from django.contrib.auth.models import User

    User.objects.filter(username="bench").delete()
    return login(base)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--clients-only":
        url, origin, cookie, count = sys.argv[2:6]
        asyncio.run(clients_main(url, origin, cookie, int(count)))
    else:
        main()
