"""The content-hash cache: an unchanged tree is answered without running the scanners again."""

from __future__ import annotations

from pathlib import Path

from security.scanners.cache import ResultCache
from security.scanners.pipeline import ScanOptions, scan_tree


def summary(report):
    return sorted((f.tool, f.path, f.line, f.rule_id, f.fingerprint) for f in report.findings)


def test_a_rescan_of_an_unchanged_tree_comes_from_the_cache(project: Path, tmp_path: Path):
    cache = ResultCache(tmp_path / "cache.sqlite3")
    options = ScanOptions(tools=("bandit", "semgrep", "detect-secrets"), cache=cache)

    cold = scan_tree(project, options)
    warm = scan_tree(project, options)

    assert summary(warm) == summary(cold) and cold.findings
    assert all(run.cached == 0 for run in cold.tools.values())
    assert all(run.cached == run.files > 0 for run in warm.tools.values())
    assert warm.seconds < cold.seconds / 3


def test_only_a_changed_file_is_scanned_again(project: Path, tmp_path: Path):
    cache = ResultCache(tmp_path / "cache.sqlite3")
    options = ScanOptions(tools=("bandit",), cache=cache)
    scan_tree(project, options)
    (project / "app" / "clean.py").write_text("import os\nos.system(input())\n")

    again = scan_tree(project, options)

    assert (again.tools["bandit"].files, again.tools["bandit"].cached) == (4, 3)
    assert ("app/clean.py", "B605") in {(f.path, f.rule_id) for f in again.findings}


def test_a_moved_file_is_still_a_cache_hit_with_its_new_path(project: Path, tmp_path: Path):
    cache = ResultCache(tmp_path / "cache.sqlite3")
    options = ScanOptions(tools=("bandit",), cache=cache)
    scan_tree(project, options)
    (project / "app" / "deploy.py").rename(project / "app" / "release.py")

    again = scan_tree(project, options)

    assert again.tools["bandit"].cached == again.tools["bandit"].files
    paths = {f.path for f in again.findings}
    assert "app/release.py" in paths and "app/deploy.py" not in paths
