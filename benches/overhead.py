"""Per-task overhead of the whole system against a bare thread pool, measured in one run.

A 500-task wide DAG and a 100-deep chain of `true`, run through everything a user's run goes
through (Huey queue, consumer, executor, database writes, live events), against a thread pool
of the same width calling subprocess.run on the same commands. Prints both ratios. A run's time
ends when the runs page's event says it succeeded (benches/watch.py), as a user watching sees it.

    .venv/bin/python benches/overhead.py [--repeat 3] [--width 8] [--parts]

--parts also runs the wide DAG with the run extensions switched off (the core: queue, executor,
database, events), then with each extension alone, and prints what each adds (wall and this
process's CPU time).
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Python puts this folder first on sys.path, where secrets.py and costs.py would shadow the
# standard library's `secrets` and the `costs` app.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benches"]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="bench-overhead-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")


def wide(width: int, n: int = 500) -> str:
    tasks = "\n".join(f'  t{i}: {{run: "true"}}' for i in range(n))
    return f"name: wide\nmax_parallel: {width}\ntasks:\n{tasks}\n"


def chain(n: int = 100) -> str:
    lines = ['  t0: {run: "true"}'] + [f'  t{i}: {{run: "true", needs: [t{i - 1}]}}' for i in range(1, n)]
    return "name: chain\nmax_parallel: 1\ntasks:\n" + "\n".join(lines) + "\n"


def bare_pool(commands: list[list[str]], width: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=width) as pool:
        list(pool.map(lambda argv: subprocess.run(argv, check=True), commands))
    return time.perf_counter() - start


def bare_chain(commands: list[list[str]]) -> float:
    start = time.perf_counter()
    for argv in commands:
        subprocess.run(argv, check=True)
    return time.perf_counter() - start


def through_system(text: str) -> float:
    """From asking for the run to the runs page's event saying it succeeded."""
    from benches.watch import watcher
    from tests.conftest import make_workflow
    from workflows import runner
    from workflows.models import Run

    workflow = make_workflow(text)
    start = time.perf_counter()
    run = runner.create_run(workflow, trigger="api")
    status = watcher().wait(run.pk)
    elapsed = time.perf_counter() - start
    assert status == Run.SUCCESS, status
    assert Run.objects.get(pk=run.pk).status == Run.SUCCESS  # the event told what is stored
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--parts", action="store_true", help="also the core alone and each run extension alone")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from dashboard.management.commands.serve import start_embedded_consumer

    consumer = start_embedded_consumer(workers=2)
    argv = shlex.split("true")
    results = {}
    for name, text, bare in (
        ("wide (500 tasks)", wide(args.width), lambda: bare_pool([argv] * 500, args.width)),
        ("chain (100 deep)", chain(), lambda: bare_chain([argv] * 100)),
    ):
        ours, base = [], []
        through_system(text)  # warm-up: imports, first connection, page cache
        for _ in range(args.repeat):
            base.append(bare())
            ours.append(through_system(text))
        b, o = statistics.median(base), statistics.median(ours)
        n = 500 if "wide" in name else 100
        results[name] = (o / b, b, o, (o - b) / n * 1000)
    parts = (
        by_extension(wide(args.width), lambda: bare_pool([argv] * 500, args.width), args.repeat) if args.parts else {}
    )
    consumer.stop(graceful=False)
    from django.conf import settings

    print(
        f"mode: {'embedded (SQLite)' if settings.EMBEDDED else 'scaled out (Redis + ' + settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1] + ')'}, width {args.width}, median of {args.repeat}"
    )
    for name, (ratio, b, o, per_task) in results.items():
        print(
            f"{name:18s} thread pool {b:7.3f}s  whole system {o:7.3f}s  ratio {ratio:5.2f}  (+{per_task:.2f} ms/task)"
        )

    for label, (ratio, b, o, cpu) in parts.items():
        print(f"wide, {label:28s} thread pool {b:7.3f}s  whole system {o:7.3f}s  ratio {ratio:5.2f}  cpu {cpu:.3f}s")


def by_extension(text: str, bare, repeat: int) -> dict[str, tuple[float, float, float, float]]:
    """The wide DAG with no run extension, with each one alone, and with all: runs alternate."""
    from django.conf import settings

    from workflows.extensions import extension_classes

    every = list(settings.RUNNER_EXTENSIONS)
    configs = {"no run extension (the core)": []}
    configs.update({f"+ {path.rsplit('.', 1)[-1]}": [path] for path in every})
    configs["all run extensions"] = every
    timings: dict[str, list[tuple[float, float]]] = {label: [] for label in configs}
    base = []
    try:
        for _ in range(repeat):
            base.append(bare())
            for label, extensions in configs.items():
                settings.RUNNER_EXTENSIONS = extensions
                extension_classes.cache_clear()
                cpu = time.process_time()
                wall = through_system(text)
                timings[label].append((wall, time.process_time() - cpu))
    finally:
        settings.RUNNER_EXTENSIONS = every
        extension_classes.cache_clear()
    b = statistics.median(base)
    result = {}
    for label, runs in timings.items():
        wall = statistics.median(w for w, _ in runs)
        result[label] = (wall / b, b, wall, statistics.median(c for _, c in runs))
    return result


if __name__ == "__main__":
    main()
