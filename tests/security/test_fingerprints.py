"""Fingerprints: stable across moved lines, distinct for repeats of the same line, made of named fields."""

from __future__ import annotations

from security.scanners import fingerprint
from security.scanners.results import ScanFinding


def finding(line: int, rule: str = "B301") -> ScanFinding:
    return ScanFinding(tool="bandit", kind="code", rule_id=rule, title=rule, severity="medium", message="",
                       path="app/job.py", line=line)  # fmt: skip


def prints(findings, lines):
    fingerprint.assign_code_fingerprints(findings, lambda path: lines)
    return [f.fingerprint for f in findings]


def test_moving_the_code_keeps_the_fingerprint():
    before = prints([finding(2)], ["import pickle", "pickle.loads(blob)"])
    after = prints([finding(5)], ["import pickle", "", "", "# moved down", "    pickle.loads(blob)  "])

    assert before == after


def test_the_same_line_twice_gives_two_findings_in_order():
    lines = ["pickle.loads(blob)", "x = 1", "pickle.loads(blob)"]

    first, second = prints([finding(1), finding(3)], lines)
    [f1, f2] = [finding(1), finding(3)]
    fingerprint.assign_code_fingerprints([f1, f2], lambda path: lines)

    assert first != second
    assert (f1.fingerprint_fields["occurrence"], f2.fingerprint_fields["occurrence"]) == (0, 1)


def test_the_fields_say_what_was_hashed():
    [f] = [finding(1)]
    fingerprint.assign_code_fingerprints([f], lambda path: ["  pickle.loads( blob )"])

    assert f.fingerprint_fields == {"kind": "code", "rule": "bandit:B301", "path": "app/job.py",
                                    "code": "pickle.loads( blob )", "occurrence": 0}  # fmt: skip
    assert f.fingerprint == fingerprint.digest(f.fingerprint_fields)


def test_another_rule_on_the_same_line_is_another_finding():
    lines = ["pickle.loads(blob)"]

    assert prints([finding(1, "B301")], lines) != prints([finding(1, "B403")], lines)
