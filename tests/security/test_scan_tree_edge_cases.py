"""Trees that trip scanners up: folders named like standard modules, files Bandit cannot parse,
binary files, and files outside the scan."""

from __future__ import annotations

from pathlib import Path

from security.scanners.cache import ResultCache
from security.scanners.pipeline import ScanOptions, scan_tree


def test_a_folder_named_like_a_standard_module_does_not_break_the_scanners(tmp_path: Path):
    (tmp_path / "http").mkdir()
    (tmp_path / "http" / "__init__.py").write_text("raise ImportError('shadowed')\n")
    (tmp_path / "job.py").write_text("import subprocess\nsubprocess.call(input(), shell=True)\n")

    report = scan_tree(tmp_path, ScanOptions(tools=("bandit", "detect-secrets")))

    assert not [e for e in report.errors if e.level == "error"], report.errors
    assert ("job.py", "B602") in {(f.path, f.rule_id) for f in report.findings}


def test_a_file_bandit_cannot_parse_is_reported_and_not_cached(tmp_path: Path):
    (tmp_path / "broken.py").write_text("def oops(:\n")
    cache = ResultCache(tmp_path / "cache.sqlite3")

    first = scan_tree(tmp_path, ScanOptions(tools=("bandit",), cache=cache))
    again = scan_tree(tmp_path, ScanOptions(tools=("bandit",), cache=cache))

    assert [(e.tool, e.path) for e in first.errors] == [("bandit", "broken.py")]
    assert again.tools["bandit"].cached == 0 and again.errors


def test_binary_files_are_not_searched_for_secrets(tmp_path: Path):
    (tmp_path / "blob.bin").write_bytes(b"\0\x01AKIA" + b"A" * 16 + b"\0")

    report = scan_tree(tmp_path, ScanOptions(tools=("detect-secrets",)))

    assert report.tools["detect-secrets"].files == 0 and not report.findings
