"""Tracing's cost: the same DAGs through the whole system with tracing off and on, in one run.

Off: no run extension. On: the tracing extension (a span per attempt stored and published
live, TRACEPARENT/BAGGAGE per attempt), and, with --export, also exporting every span as
Zipkin JSON to a local HTTP receiver started here. Runs alternate off/on (and which of the two goes
first) so both see the same machine; the median of --repeat runs is compared, for wall time and
for the CPU time of this process (the server's side of the work; steadier when the machine is busy).
One run of a 100-task chain varies by ~9% from the next on these machines: 21 pairs keep a
median's own spread to about a percent.

    .venv/bin/python benches/tracing_overhead.py [--repeat 21] [--export]
"""

from __future__ import annotations

import sys
from pathlib import Path

# This folder is first on sys.path when a script here runs; a bench named like a stdlib module
# (benches/secrets.py) would shadow it. Run with the project root on the path instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="bench-tracing-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

TRACING = "tracing.extension.TracingExtension"


def wide(n: int = 300, width: int = 8) -> str:
    tasks = "\n".join(f'  t{i}: {{run: "true"}}' for i in range(n))
    return f"name: wide_{n}\nmax_parallel: {width}\ntasks:\n{tasks}\n"


def chain(n: int = 100) -> str:
    lines = ['  t0: {run: "true"}'] + [f'  t{i}: {{run: "true", needs: [t{i - 1}]}}' for i in range(1, n)]
    return f"name: chain_{n}\nmax_parallel: 1\ntasks:\n" + "\n".join(lines) + "\n"


def scripts(n: int = 40, width: int = 4) -> str:
    """Tasks that start Python and do a little work, like most real tasks."""
    run = "python -c 'sum(range(200000))'"
    tasks = "\n".join(f'  s{i}: {{run: "{run}"}}' for i in range(n))
    return f"name: scripts_{n}\nmax_parallel: {width}\ntasks:\n{tasks}\n"


class Sink(BaseHTTPRequestHandler):
    """A local Zipkin collector that accepts and drops everything."""

    spans = 0

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def use(extensions: list[str]) -> None:
    from django.conf import settings

    from workflows.extensions import extension_classes

    settings.RUNNER_EXTENSIONS = extensions
    extension_classes.cache_clear()


def through_system(workflow) -> tuple[float, float]:
    """Wall time of one run (until the runs page's event says it succeeded), and the CPU time this
    process spent meanwhile (steadier on a busy machine)."""
    from benches.watch import watcher
    from workflows import runner
    from workflows.models import Run

    cpu = time.process_time()
    start = time.perf_counter()
    run = runner.create_run(workflow, trigger="api")
    status = watcher().wait(run.pk)
    elapsed = time.perf_counter() - start
    assert status == Run.SUCCESS, status
    return elapsed, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--export", action="store_true", help="also export every span as Zipkin JSON")
    args = parser.parse_args()
    if args.export:
        sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
        threading.Thread(target=sink.serve_forever, daemon=True).start()
        os.environ["OTEL_TRACES_EXPORTER"] = "zipkin"
        os.environ["OTEL_EXPORTER_ZIPKIN_ENDPOINT"] = f"http://127.0.0.1:{sink.server_address[1]}/api/v2/spans"

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from dashboard.management.commands.serve import start_embedded_consumer
    from tests.conftest import make_workflow
    from tracing.models import Span

    consumer = start_embedded_consumer(workers=2)
    results = {}
    for name, text in (("wide, 300 `true`", wide()), ("chain, 100 `true`", chain()), ("40 python scripts", scripts())):
        workflow = make_workflow(text)
        for extensions in ([], [TRACING]):  # warm-up: imports, connections, page cache
            use(extensions)
            through_system(workflow)
        off, on = [], []
        for i in range(args.repeat):
            # Alternate which goes first, so a drift in the machine's load favours neither.
            for extensions in ([], [TRACING]) if i % 2 == 0 else ([TRACING], []):
                use(extensions)
                (on if extensions else off).append(through_system(workflow))
        results[name] = tuple(statistics.median(x[i] for x in runs) for runs in (off, on) for i in (0, 1))
    consumer.stop(graceful=False)
    from tracing import telemetry

    telemetry.telemetry().force_flush()
    from django.conf import settings

    mode = "embedded (SQLite)" if settings.EMBEDDED else "scaled out (Redis + PostgreSQL)"
    print(
        f"mode: {mode}, export: {'zipkin' if args.export else 'none'}, median of {args.repeat}, {Span.objects.count()} spans stored"
    )
    for name, (off_s, off_cpu, on_s, on_cpu) in results.items():
        print(
            f"{name:20s} wall: off {off_s:6.3f}s on {on_s:6.3f}s ratio {on_s / off_s:5.3f}   "
            f"cpu: off {off_cpu:6.3f}s on {on_cpu:6.3f}s ratio {on_cpu / off_cpu:5.3f}"
        )


if __name__ == "__main__":
    main()
