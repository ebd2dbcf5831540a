"""What costs cost: a workflow with costs on against the same with costs off, and the roll-up by
workflow and day over 1,000,000 cost records against 10,000 on PostgreSQL. Prints both ratios.

    .venv/bin/python benches/costs.py [--repeat 5] [--tasks 40] [--skip-rollup]

Part 1 runs in this process (embedded mode, its own data dir): runner.execute() of the same
workflow alternately with and without costs.extension.CostExtension in RUNNER_EXTENSIONS.
Part 2 runs in a child process against PostgreSQL on 127.0.0.1 (database `bench_costs`, made and
dropped here): the records are inserted with one INSERT ... SELECT generate_series (not through
runs: a million runs would take hours), the per-day totals rebuilt from them, then the roll-up
timed (median of 20) at 10,000 and at 1,000,000 records.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Not this folder: a sibling bench named like a standard module (secrets.py) would shadow it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benches"]
sys.path.insert(0, str(ROOT))
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
PG_BENCH = "postgres://postgres@127.0.0.1:5432/bench_costs"
WORKFLOWS, DAYS = 50, 90


def setup_django(database_url: str | None = None) -> None:
    os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="bench-costs-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# ------------------------------------------------------------------ part 1: costs on vs off


def workflow(tasks: int) -> str:
    # Tasks that do a little work (0.2 s of sleep and a Python start), four at a time.
    body = "\n".join(f"  t{i}: {{run: \"python -c 'import time; time.sleep(0.2)'\"}}" for i in range(tasks))
    return f"name: bench_costs\nmax_parallel: 4\ncost: {{provider: aws, region: us-east-1, instance_type: m5.large}}\ntasks:\n{body}\n"


def run_once(source: str, with_costs: bool) -> float:
    from django.conf import settings

    from tests.conftest import make_workflow
    from workflows import runner
    from workflows.extensions import extension_classes
    from workflows.models import Run

    cost = "costs.extension.CostExtension"
    settings.RUNNER_EXTENSIONS = [e for e in settings.RUNNER_EXTENSIONS if e != cost] + ([cost] if with_costs else [])
    extension_classes.cache_clear()
    run = runner.create_run(make_workflow(source), trigger="cli", enqueue=False)
    start = time.perf_counter()
    runner.execute(run.pk)
    elapsed = time.perf_counter() - start
    assert Run.objects.get(pk=run.pk).status == Run.SUCCESS
    return elapsed


def on_off(repeat: int, tasks: int) -> None:
    setup_django()
    from costs.models import CostRecord

    source = workflow(tasks)
    run_once(source, True)  # warm caches (catalogue, plan) for both sides
    on, off = [], []
    for _ in range(repeat):  # interleaved, so drift on a noisy machine hits both sides alike
        off.append(run_once(source, False))
        on.append(run_once(source, True))
    assert CostRecord.objects.count() == tasks * (repeat + 1)
    m_on, m_off = statistics.median(on), statistics.median(off)
    print(f"costs on vs off, {tasks} tasks x 0.2 s, width 4, median of {repeat}: "
          f"off {m_off:.3f} s, on {m_on:.3f} s, ratio {m_on / m_off:.3f} (goal <= 1.02)", flush=True)  # fmt: skip


# ------------------------------------------------------------------ part 2: roll-up at 10k vs 1M


def seed(count: int) -> None:
    from django.db import connection

    from costs.models import CostRecord
    from costs.records import rebuild_days
    from tests.conftest import make_workflow
    from workflows import runner
    from workflows.models import TaskRun

    CostRecord.objects.all().delete()
    if not TaskRun.objects.exists():
        for i in range(WORKFLOWS):
            runner.create_run(make_workflow(f"name: w{i}\ntags: {{team: t{i % 5}}}\ntasks:\n  a: {{run: 'true'}}\n"),
                              trigger="cli", enqueue=False)  # fmt: skip
    tasks = list(TaskRun.objects.order_by("id").values_list("id", "run_id", "run__workflow_id"))
    ids = ",".join(f"({n},{t},{r},{w})" for n, (t, r, w) in enumerate(tasks))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO costs_costrecord (run_id, taskrun_id, workflow_id, node_id, task_id, attempt_number,
                   is_retry, day, created_at, model, provider, region, instance_type, amount, status, reason,
                   rates, inputs, lines, tags)
            SELECT t.run_id, t.taskrun_id, t.workflow_id, 'a', 'a', g / {WORKFLOWS} + 1, (g %% 7 = 0),
                   CURRENT_DATE - ((g / {WORKFLOWS}) %% {DAYS}), now(), 'allocation', 'aws', 'us-east-1', 'm5.large',
                   (g %% 1000) / 100000.0, 'priced', '', '{{}}', '{{}}', '[]',
                   jsonb_build_object('team', 't' || (t.n %% 5))
            FROM generate_series(0, %s - 1) AS g
            JOIN (VALUES {ids}) AS t(n, taskrun_id, run_id, workflow_id) ON t.n = g %% {WORKFLOWS}""",
            [count],
        )
        cursor.execute("ANALYZE costs_costrecord")
    rebuild_days()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE costs_costday")


def time_rollup(runs: int = 20) -> float:
    from costs import records
    from costs.budgets import today

    since = today().toordinal() - DAYS + 1
    from datetime import date

    times = []
    for _ in range(runs):
        start = time.perf_counter()
        rows = records.by_workflow_and_day(since=date.fromordinal(since))
        times.append(time.perf_counter() - start)
    assert len(rows) == WORKFLOWS * DAYS, len(rows)
    return statistics.median(times)


def rollup_child() -> None:
    setup_django(PG_BENCH)
    results = {}
    for count in (10_000, 1_000_000):
        started = time.perf_counter()
        seed(count)
        seeded = time.perf_counter() - started
        results[count] = time_rollup()
        print(f"  {count:>9,} records (seeded in {seeded:.1f} s): roll-up by workflow and day "
              f"{results[count] * 1000:.2f} ms", flush=True)  # fmt: skip
    ratio = results[1_000_000] / results[10_000]
    print(f"roll-up by workflow and day, 1,000,000 vs 10,000 records on PostgreSQL: ratio {ratio:.2f} (goal <= 3)")


def rollup() -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS bench_costs")
        conn.execute("CREATE DATABASE bench_costs")
    try:
        env = {**os.environ, "DATABASE_URL": PG_BENCH, "DATA_DIR": tempfile.mkdtemp(prefix="bench-costs-pg-")}
        env.pop("REDIS_URL", None)
        subprocess.run([sys.executable, __file__, "--rollup-child"], env=env, check=True)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS bench_costs")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--skip-rollup", action="store_true")
    parser.add_argument("--rollup-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rollup_child:
        rollup_child()
        return
    if not args.skip_rollup:
        rollup()
    on_off(args.repeat, args.tasks)


if __name__ == "__main__":
    main()
