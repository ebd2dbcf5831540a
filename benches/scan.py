"""Security scanning speed, each figure against a baseline measured in the same run.

1. Cold scan of a real tree (the installed Django package's source) with Bandit, Semgrep and
   detect-secrets run in parallel, against the raw CLIs run one after another on the same files
   (detect-secrets is given our list of text files, so it does not also read __pycache__) (goal: 0.8).
2. A re-scan of the unchanged tree (content-hash cache) against the cold scan (goal: at most 0.05).
3. OSV matching of 1,000 pinned requirements against the whole local advisory set (the PyPA
   database in ../shared/data): the indexed matcher against a linear pass over every advisory.
4. The findings list page (filter, keyset page, bounded count) at 100,000 findings against 1,000.

    .venv/bin/python benches/scan.py [--repeat 5] [--skip-cold] [--tree PATH]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Not this folder first on the path: a bench module here may share a name with the standard library's.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="bench-scan-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

from security.scanners import manifests, osv, semgrep  # noqa: E402
from security.scanners.cache import ResultCache  # noqa: E402
from security.scanners.pipeline import ScanOptions, scan_tree  # noqa: E402

OSV_DATA = ROOT.parent / "shared" / "data" / "osv-pypa" / "vulns"
CODE_TOOLS = ("bandit", "semgrep", "detect-secrets")


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def text_files(tree: Path) -> list[str]:
    """What our detect-secrets pass reads: the tree's text files (not caches or binaries)."""
    from security.scanners.detect_secrets import DetectSecrets
    from security.scanners.files import read_files, walk

    return sorted(p for p, f in read_files(tree, walk(tree)).items() if DetectSecrets().applies(f))


def raw_clis(tree: Path) -> dict[str, float]:
    """The three CLIs one after another on the same files as our scan, as a user would run them."""
    runs = {
        "bandit": [sys.executable, "-P", "-m", "bandit", "-r", ".", "-f", "json", "-q", "--exit-zero"],
        "semgrep": [semgrep.semgrep_bin(), "scan", "--config", str(semgrep.RULES_DIR), "--json", "--metrics=off",
                    "--disable-version-check", "--quiet", "--no-git-ignore", "."],
        "detect-secrets": [sys.executable, "-P", "-m", "detect_secrets", "scan", "--all-files", *text_files(tree)],
    }  # fmt: skip
    seconds = {}
    for name, argv in runs.items():
        start = time.perf_counter()
        subprocess.run(argv, cwd=tree, env=semgrep.offline_env(), capture_output=True, check=True)
        seconds[name] = time.perf_counter() - start
    return seconds


def bench_tree(tree: Path, repeat: int, skip_cold: bool) -> None:
    cache_dir = Path(tempfile.mkdtemp(prefix="bench-scan-cache-"))
    cache = ResultCache(cache_dir / "cache.sqlite3")
    options = ScanOptions(tools=CODE_TOOLS, cache=cache)
    print(f"tree: {tree} ({sum(1 for _ in tree.rglob('*') if _.is_file())} files)")
    if skip_cold:
        cold, report = timed(scan_tree, tree, options)
        print(f"cold scan (ours, parallel): {cold:.1f}s")
    else:
        raw = raw_clis(tree)
        raw_total = sum(raw.values())
        print("raw CLIs one after another: " + ", ".join(f"{k} {v:.1f}s" for k, v in raw.items())
              + f" = {raw_total:.1f}s")  # fmt: skip
        cold, report = timed(scan_tree, tree, options)
        print(f"cold scan (ours, parallel): {cold:.1f}s  ({len(report.findings)} findings, "
              f"{len(report.files)} files)")  # fmt: skip
        print(f"RATIO cold scan / raw CLIs = {cold / raw_total:.2f}  (goal <= 0.8)")
    warm = [timed(scan_tree, tree, options)[0] for _ in range(repeat)]
    median = statistics.median(warm)
    print(f"re-scan of the unchanged tree: median {median:.2f}s of {repeat}")
    print(f"RATIO re-scan / cold scan = {median / cold:.3f}  (goal <= 0.05)")


def thousand_pins(index: osv.AdvisoryIndex, rng: random.Random) -> list[manifests.Pin]:
    """1,000 pins: packages with advisories at versions they list (affected or not), plus unknown ones."""
    pins = []
    packages = sorted(index.by_package)
    while len(pins) < 900:
        name = rng.choice(packages)
        versions = [v for a in index.by_package[name] for e in a.affected_entries(name) for v in e.get("versions", [])]
        version = (
            rng.choice(versions) if versions and rng.random() < 0.7 else f"{rng.randint(0, 30)}.{rng.randint(0, 9)}"
        )
        pins.append(manifests.Pin(name, version, "requirements.txt", len(pins) + 1))
    pins += [manifests.Pin(f"unknown-package-{i}", "1.0", "requirements.txt", 901 + i) for i in range(100)]
    return pins


def linear_match(pins: list[manifests.Pin], advisories: list[osv.Advisory]) -> int:
    """The baseline: every pin against every advisory, no index."""
    found = 0
    for pin in pins:
        for advisory in advisories:
            if any(osv.affects(entry, pin.version or "") for entry in advisory.affected_entries(pin.key)):
                found += 1
    return found


def bench_osv(repeat: int) -> None:
    load, index = timed(osv.AdvisoryIndex.load, OSV_DATA)
    advisories = list({a.id: a for group in index.by_package.values() for a in group}.values())
    pins = thousand_pins(index, random.Random(4))
    print(f"advisories: {len(index)} loaded in {load:.1f}s; 1,000 pins")
    ours = [timed(lambda: osv.merge_aliases(osv.match(pins, index)))[0] for _ in range(repeat)]
    base = [timed(linear_match, pins, advisories)[0] for _ in range(max(1, repeat // 2))]
    matches = len(osv.match(pins, index))
    assert matches == linear_match(pins, advisories), "the indexed matcher must find what the linear pass finds"
    print(f"OSV match of 1,000 pins: ours {statistics.median(ours) * 1000:.1f} ms, linear pass "
          f"{statistics.median(base) * 1000:.0f} ms ({matches} matches)")  # fmt: skip
    print(f"RATIO OSV indexed / linear = {statistics.median(ours) / statistics.median(base):.3f}")


def bench_list(repeat: int) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    from security import listing
    from security.models import Finding

    call_command("migrate", verbosity=0)
    from tests.security.conftest import make_findings

    def page_time() -> float:
        times = []
        for _ in range(repeat * 4):
            start = time.perf_counter()
            for params in ({"state": "active"}, {"state": "all", "sort": "newest", "tool": "semgrep"},
                           {"state": "all", "sort": "path", "severity": "high"}):  # fmt: skip
                page = listing.page(params)
                listing.bounded_count(listing.filtered(params)[0])
                if page.next_cursor:
                    listing.page({**params, "after": page.next_cursor})
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    Finding.objects.all().delete()
    make_findings(1_000, root="/bench/small")
    small = page_time()
    Finding.objects.all().delete()
    make_findings(100_000, root="/bench/large")
    large = page_time()
    print(f"findings list (3 filtered pages + counts): 1,000 findings {small * 1000:.1f} ms, "
          f"100,000 findings {large * 1000:.1f} ms")  # fmt: skip
    print(f"RATIO list at 100,000 / at 1,000 = {large / small:.2f}  (goal <= 2.0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-cold", action="store_true", help="no raw-CLI baseline (the slow part)")
    parser.add_argument("--tree", type=Path, default=None, help="default: the installed Django package")
    parser.add_argument("--only", choices=("tree", "osv", "list"), default=None)
    args = parser.parse_args()
    if args.only in (None, "tree"):
        import django as django_package

        bench_tree(args.tree or Path(django_package.__path__[0]), args.repeat, args.skip_cold)
    if args.only in (None, "osv"):
        bench_osv(args.repeat)
    if args.only in (None, "list"):
        bench_list(args.repeat)


if __name__ == "__main__":
    main()
