"""Secrets: the cost of masking log lines, and of resolving secrets when attempts start.

1. Masking: 100 MB of log lines (about 1 in 500 holding one of 50 secrets, in one of its
   forms), written unmasked and masked; each ratio is masked / unmasked. The goal (at most
   1.3) is for the lines as the run's writer stores them: rows in SQLite, a transaction per
   batch of 1000 lines, multi-row INSERTs, WAL, each batch masked with Masker.mask_lines. For
   comparison against the cheapest sink there is, the same batches written to a file: masked
   as one text per batch (Masker(text)) or as a list of lines; and line by line. Masking is
   timed in CPU seconds of this process, resolution in wall time (the server does the work).
2. Resolution on OpenBao (a dev server started here): a bare hvac read of a KV v2 path, against
   what an attempt start costs through SecretResolver, with the per-run cache cold (TTL 0) and
   warm; the ratios are per attempt against the bare read.

    .venv/bin/python benches/secrets.py [--megabytes 100] [--repeat 5] [--reads 300]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import string
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Python puts this folder first on sys.path, where secrets.py and costs.py would shadow the
# standard library's `secrets` and the `costs` app.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benches"]
sys.path.insert(0, str(ROOT))

from security.providers import build_provider  # noqa: E402
from security.providers.forms import secret_forms  # noqa: E402
from security.providers.masking import Masker  # noqa: E402
from security.providers.resolve import SecretCache, SecretResolver  # noqa: E402

# The masking figures are this process's CPU time (user + system, the kernel's share of the
# writes included): on a shared 2-core machine, wall time mostly measures the neighbours.
cpu_time = time.process_time
BATCH = 1000  # lines per write, about what the run's writer stores per transaction when busy
WORDS = [
    "INFO", "DEBUG", "loaded", "rows", "from", "table", "customers", "in", "ms", "batch", "request", "GET",
    "/api/v1/items", "status=200", "user_id=", "retrying", "connection", "pool", "size", "ok", "warning:",
    "deprecated", "transform", "parquet", "json", "csv", "wrote", "bytes", "to", "s3://bucket/key",
]  # fmt: skip


def make_secrets(count: int, rng: random.Random) -> list[str]:
    alphabet = string.ascii_letters + string.digits + "-_/+=.@!"
    secrets = ["".join(rng.choice(alphabet) for _ in range(rng.randint(12, 48))) for _ in range(count - 2)]
    secrets.append("pässwörd-ключ-" + "".join(rng.choice(string.ascii_letters) for _ in range(10)))
    secrets.append(
        "-----BEGIN KEY-----\n" + "".join(rng.choice(string.ascii_letters) for _ in range(64)) + "\n-----END KEY-----"
    )
    return secrets


def make_lines(megabytes: int, secrets: list[str], rng: random.Random) -> tuple[list[str], int]:
    forms = sorted({form for secret in secrets for form in secret_forms(secret)})
    lines: list[str] = []
    size = planted = 0
    while size < megabytes * 1_000_000:
        words = rng.choices(WORDS, k=rng.randint(6, 24))
        words.append(str(rng.randint(0, 10**6)))
        if rng.random() < 0.002:
            words.insert(rng.randint(0, len(words)), rng.choice(forms))
            planted += 1
        line = " ".join(words)
        lines.append(line)
        size += len(line) + 1
    return lines, planted


def batches(lines: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(lines), BATCH):
        yield lines[start : start + BATCH]


def write_batches(path: Path, lines: list[str], mask: Callable[[list[str]], list[str]] | None) -> float:
    start = cpu_time()
    with open(path, "w", encoding="utf-8") as fh:
        for batch in batches(lines):
            fh.write("\n".join(mask(batch) if mask else batch))
            fh.write("\n")
    return cpu_time() - start


def write_blocks(path: Path, lines: list[str], mask: Callable[[str], str]) -> float:
    start = cpu_time()
    with open(path, "w", encoding="utf-8") as fh:
        for batch in batches(lines):
            fh.write(mask("\n".join(batch)))
            fh.write("\n")
    return cpu_time() - start


def store_rows(path: Path, lines: list[str], mask: Callable[[list[str]], list[str]] | None) -> float:
    """Rows as the run's writer (workflows/recorder.py) stores them: a transaction per batch,
    INSERTs of up to 400 rows each, WAL with synchronous=NORMAL as dashboard/settings.py sets."""
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        "CREATE TABLE line (run INTEGER, taskrun INTEGER, attempt INTEGER, lineno INTEGER, stream TEXT, ts REAL, text TEXT);"
    )
    chunk = 400
    statement = "INSERT INTO line VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * chunk)
    start = cpu_time()
    lineno = 0
    for batch in batches(lines):
        texts = mask(batch) if mask else batch
        now = time.time()
        rows = []
        for text in texts:
            lineno += 1
            rows.append((1, 1, 1, lineno, "o", now, text))
        db.execute("BEGIN IMMEDIATE")
        for first in range(0, len(rows), chunk):
            part = rows[first : first + chunk]
            sql = (
                statement
                if len(part) == chunk
                else "INSERT INTO line VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(part))
            )
            db.execute(sql, [value for row in part for value in row])
        db.execute("COMMIT")
    elapsed = cpu_time() - start
    db.close()
    return elapsed


def write_lines(path: Path, lines: list[str], mask: Callable[[str], str] | None) -> float:
    start = cpu_time()
    with open(path, "w", encoding="utf-8") as fh:
        write = fh.write
        if mask is None:
            for line in lines:
                write(line + "\n")
        else:
            for line in lines:
                write(mask(line) + "\n")
    return cpu_time() - start


def bench_masking(megabytes: int, repeat: int) -> dict[str, float]:
    rng = random.Random(7)
    secrets = make_secrets(50, rng)
    t0 = time.perf_counter()
    masker = Masker(secrets)
    compile_s = time.perf_counter() - t0
    lines, planted = make_lines(megabytes, secrets, rng)
    out = Path(tempfile.mkdtemp(prefix="bench-secrets-")) / "log.txt"
    rows_plain, rows_masked, plain, blocks, masked, plain_lines, masked_lines = [], [], [], [], [], [], []
    db = out.with_suffix(".sqlite3")
    for _ in range(repeat):
        rows_plain.append(store_rows(db, lines, None))
        rows_masked.append(store_rows(db, lines, masker.mask_lines))
        plain.append(write_batches(out, lines, None))
        blocks.append(write_blocks(out, lines, masker))
        masked.append(write_batches(out, lines, masker.mask_lines))
        plain_lines.append(write_lines(out, lines, None))
        masked_lines.append(write_lines(out, lines, masker))
    text = out.read_text(encoding="utf-8")
    stored = "\n".join(row[0] for row in sqlite3.connect(db).execute("SELECT text FROM line"))
    survivors = sum(1 for form in masker.forms if form in text or form in stored)
    out.unlink()
    for leftover in out.parent.glob("log.sqlite3*"):
        leftover.unlink()
    result = {
        "lines": len(lines), "planted": planted, "masks": text.count("***"), "survivors": survivors,
        "forms": len(masker.forms), "compile_s": compile_s,
        "rows_plain": statistics.median(rows_plain), "rows_masked": statistics.median(rows_masked),
        "plain": statistics.median(plain), "blocks": statistics.median(blocks), "masked": statistics.median(masked),
        "plain_lines": statistics.median(plain_lines), "masked_lines": statistics.median(masked_lines),
    }  # fmt: skip
    print(f"masking: {megabytes} MB, {len(lines):,} lines, 50 secrets ({len(masker.forms)} forms, "
          f"{masker.matcher_name}, compiled in {compile_s * 1000:.0f} ms), {planted} planted, "
          f"{result['masks']} masks written, {survivors} forms survived")  # fmt: skip
    print(
        f"  stored as rows in SQLite, {BATCH} lines a transaction: unmasked {result['rows_plain']:.3f} s, "
        f"masked {result['rows_masked']:.3f} s, ratio {result['rows_masked'] / result['rows_plain']:.2f} (goal <= 1.3)"
    )
    print(f"  written to a file, {BATCH} lines a write: unmasked {result['plain']:.3f} s")
    print(f"    masked as one text per batch: {result['blocks']:.3f} s, ratio {result['blocks'] / result['plain']:.2f}")
    print(f"    masked as a list of lines:    {result['masked']:.3f} s, ratio {result['masked'] / result['plain']:.2f}")
    print(f"  line by line: unmasked {result['plain_lines']:.3f} s, masked {result['masked_lines']:.3f} s, "
          f"ratio {result['masked_lines'] / result['plain_lines']:.2f}")  # fmt: skip
    return result


def per_call(fn: Callable[[], object], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        fn()
    return (time.perf_counter() - start) / count


def bench_resolution(reads: int, repeat: int) -> dict[str, float]:
    from tests.security.providers.servers import BaoServer

    with BaoServer() as server:
        root = server.client()
        root.secrets.kv.v2.create_or_update_secret("bench/db", {"password": "bench-password-value", "user": "u"})
        provider = build_provider("vault", "bench", {"url": server.url, "token": server.token})
        bare_client = server.client()
        refs = {"DB_PASSWORD": "bench:bench/db#password"}
        cold = SecretResolver({"bench": provider}, cache=SecretCache(ttl=0))
        warm = SecretResolver({"bench": provider}, cache=SecretCache(ttl=3600))
        cold.resolve_env(refs), warm.resolve_env(refs)  # connections open, values known to the maskers

        def bare() -> object:
            return bare_client.secrets.kv.v2.read_secret_version("bench/db", raise_on_deleted_version=True)

        bare_s, cold_s, warm_s = [], [], []
        for _ in range(repeat):
            bare_s.append(per_call(bare, reads))
            cold_s.append(per_call(lambda: cold.resolve_env(refs), reads))
            warm_s.append(per_call(lambda: warm.resolve_env(refs), reads))
        provider.close()
    result = {"bare": statistics.median(bare_s), "cold": statistics.median(cold_s), "warm": statistics.median(warm_s)}
    print(f"resolution on OpenBao, per attempt (median of {repeat} x {reads}):")
    print(f"  bare hvac read {result['bare'] * 1e6:.0f} us; uncached {result['cold'] * 1e6:.0f} us, "
          f"ratio {result['cold'] / result['bare']:.2f}; cached {result['warm'] * 1e6:.1f} us, "
          f"ratio {result['warm'] / result['bare']:.3f}")  # fmt: skip
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reads", type=int, default=300)
    args = parser.parse_args()
    masking = bench_masking(args.megabytes, args.repeat)
    bench_resolution(args.reads, args.repeat)
    if masking["survivors"]:
        raise SystemExit(f"{masking['survivors']} forms survived masking")


if __name__ == "__main__":
    main()
