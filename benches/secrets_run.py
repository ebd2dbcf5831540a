"""Secrets in a whole run: the same chatty workflow with its values read from OpenBao through
`secrets:` (resolved per attempt, every log line masked by the run's writer) against the same
values given in plain `env:` (nothing to resolve or mask). Prints the ratio, and the same run with
the writer masking line by line (how it masked before the batch path) for comparison.

    .venv/bin/python benches/secrets_run.py [--megabytes 20] [--tasks 4] [--secrets 10] [--repeat 3]

Runs in this process (embedded mode, SQLite in a data dir of its own), runner.execute() with the
secrets extension as the only run extension, alternating the variants. The figure is this
process's CPU time (the executor threads and the run's writer: what masking costs the server;
the tasks' own processes are not counted) and the wall time of the run. About 1 line in 200 holds
a secret in one of its forms (raw, base64, URL-encoded, JSON-escaped, hex).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Not this folder: secrets.py and costs.py here would shadow the standard library's and the app.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benches"]
sys.path.insert(0, str(ROOT))

TASK = r"""
import base64, json, os, random, sys, urllib.parse
names = [n for n in os.environ if n.startswith("BENCH_SECRET_")]
values = [os.environ[n] for n in names]
forms = [f(v) for v in values for f in (
    lambda v: v, lambda v: base64.b64encode(v.encode()).decode(), lambda v: urllib.parse.quote(v, safe=""),
    lambda v: json.dumps(v)[1:-1], lambda v: v.encode().hex())]
words = "INFO DEBUG loaded rows from table customers in ms batch request GET /api/v1/items status=200 ok".split()
rng = random.Random(int(sys.argv[2]))
out = sys.stdout
written, target = 0, int(sys.argv[1])
while written < target:
    line = " ".join(rng.choice(words) for _ in range(12))
    if rng.random() < 0.005:
        line += " token=" + rng.choice(forms)
    out.write(line + "\n")
    written += len(line) + 1
"""


def setup_django() -> None:
    os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="bench-secrets-run-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    os.environ["TRACING_ENABLED"] = "0"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    settings.RUNNER_EXTENSIONS = ["security.secrets_extension.SecretsExtension"]
    from workflows.extensions import extension_classes

    extension_classes.cache_clear()


def workflow(name: str, folder: Path, tasks: int, per_task: int, env_lines: list[str]) -> str:
    (folder / "chatty.py").write_text(TASK)
    body = "\n".join(f"  t{i}:\n    run: python chatty.py {per_task} {i}\n{''.join(env_lines)}" for i in range(tasks))
    return f"name: {name}\nmax_parallel: {tasks}\ntasks:\n{body}"


def run_once(source: str, folder: Path) -> tuple[float, float, int]:
    from django.db.models import Count

    from tests.conftest import make_workflow
    from workflows import runner
    from workflows.models import LogLine, Run

    run = runner.create_run(make_workflow(source, base_dir=str(folder)), trigger="cli", enqueue=False)
    cpu, wall = time.process_time(), time.perf_counter()
    runner.execute(run.pk)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    assert Run.objects.get(pk=run.pk).status == Run.SUCCESS, Run.objects.get(pk=run.pk).message
    masked = LogLine.objects.filter(run_id=run.pk, text__contains="***").aggregate(n=Count("id"))["n"]
    LogLine.objects.filter(run_id=run.pk).delete()  # keep the table the same size for every run
    return cpu, wall, masked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=float, default=20)
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--secrets", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    setup_django()

    import random
    import string

    from security.models import SecretProvider
    from security.providers.resolve import Scope
    from tests.security.providers.servers import BaoServer

    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits + "-_/+=.@!"
    values = ["".join(rng.choice(alphabet) for _ in range(rng.randint(12, 40))) for _ in range(args.secrets)]
    per_task = int(args.megabytes * 1_000_000 / args.tasks)
    folder = Path(tempfile.mkdtemp(prefix="bench-secrets-wf-"))
    with BaoServer() as bao:
        bao.client().secrets.kv.v2.create_or_update_secret(
            path="bench", secret={f"k{i}": v for i, v in enumerate(values)}, mount_point="secret"
        )
        SecretProvider().save_config(
            name="bench-vault", kind="vault", config={"url": bao.url, "token": bao.token}, scope=Scope.parse(["*"])
        )
        plain = workflow("bench_plain", folder, args.tasks, per_task,
                         ["    env:\n"] + [f"      BENCH_SECRET_{i}: '{v}'\n" for i, v in enumerate(values)])  # fmt: skip
        secret = workflow("bench_secrets", folder, args.tasks, per_task,
                          ["    secrets:\n"] + [f"      BENCH_SECRET_{i}: 'bench-vault:bench#k{i}'\n" for i in range(len(values))])  # fmt: skip

        import security.secrets_extension as ext

        batch_mask_lines = ext.RunMask.mask_lines

        def per_line(self, lines):
            return [self(line) for line in lines]

        results: dict[str, list[tuple[float, float, int]]] = {"plain": [], "secrets": [], "per line": []}
        run_once(plain, folder)  # warm up: imports, plan caches, the database file
        for _ in range(args.repeat):
            results["plain"].append(run_once(plain, folder))
            ext.RunMask.mask_lines = batch_mask_lines
            results["secrets"].append(run_once(secret, folder))
            ext.RunMask.mask_lines = per_line
            results["per line"].append(run_once(secret, folder))
        ext.RunMask.mask_lines = batch_mask_lines

    def median(name: str, index: int) -> float:
        return statistics.median(r[index] for r in results[name])

    print(f"{args.tasks} tasks printing {args.megabytes:g} MB in all, {args.secrets} secrets, median of {args.repeat}")
    print(f"masked lines per run: {results['secrets'][0][2]} (plain: {results['plain'][0][2]})")
    base_cpu, base_wall = median("plain", 0), median("plain", 1)
    print(f"plain env (baseline):          cpu {base_cpu:6.2f} s   wall {base_wall:6.2f} s")
    for name in ("secrets", "per line"):
        cpu, wall = median(name, 0), median(name, 1)
        label = "secrets, masked per batch:" if name == "secrets" else "secrets, masked line by line:"
        print(
            f"{label:30} cpu {cpu:6.2f} s   wall {wall:6.2f} s   ratio cpu {cpu / base_cpu:.2f}  wall {wall / base_wall:.2f}"
        )


if __name__ == "__main__":
    main()
