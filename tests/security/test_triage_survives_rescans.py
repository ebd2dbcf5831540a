"""Re-scans: a finding seen again is the same finding (its lines may move), triage decisions stay,
what disappears is fixed, what comes back is reopened; every change is in the history."""

from __future__ import annotations

from pathlib import Path

from security.models import Finding, FindingEvent
from security.scanning import scan_folder
from security.triage import triage

CODE = "import pickle\nimport subprocess\n\n\ndef load(blob):\n    return pickle.loads(blob)\n\n\ndef run(cmd):\n    subprocess.call(cmd, shell=True)\n"


def scan(root: Path):
    return scan_folder(root, tools=["bandit"], manifests=[])


def test_a_finding_keeps_its_identity_when_lines_move(db, users, tmp_path: Path):
    (tmp_path / "job.py").write_text(CODE)
    scan(tmp_path)
    first = Finding.objects.get(rule_id="B602")

    (tmp_path / "job.py").write_text('"""Now with a docstring."""\n\n\n' + CODE)
    second = scan(tmp_path)

    moved = Finding.objects.get(rule_id="B602")
    assert moved.pk == first.pk and moved.line == first.line + 3
    assert moved.occurrence_count == 2 and second.new_count == 0
    assert Finding.objects.count() == 4  # B403 and B404 (the imports), B301 pickle, B602 shell


def test_false_positive_and_accepted_risk_survive_rescans(db, users, tmp_path: Path):
    (tmp_path / "job.py").write_text(CODE)
    scan(tmp_path)
    pickle_finding = Finding.objects.get(rule_id="B301")
    triage([pickle_finding], state=Finding.FALSE_POSITIVE, user=users["triager"], comment="blob is our own cache")

    scan(tmp_path)

    pickle_finding.refresh_from_db()
    assert pickle_finding.state == Finding.FALSE_POSITIVE
    assert pickle_finding.state_reason == "blob is our own cache"


def test_gone_is_fixed_and_back_is_reopened_with_history(db, users, tmp_path: Path):
    (tmp_path / "job.py").write_text(CODE)
    scan(tmp_path)
    shell = Finding.objects.get(rule_id="B602")
    triage([shell], state=Finding.CONFIRMED, user=users["triager"], comment="real")

    (tmp_path / "job.py").write_text(CODE.replace("subprocess.call(cmd, shell=True)", "subprocess.call(cmd)"))
    fixing = scan(tmp_path)
    shell.refresh_from_db()
    assert shell.state == Finding.FIXED and fixing.fixed_count == 1

    (tmp_path / "job.py").write_text(CODE)
    scan(tmp_path)
    shell.refresh_from_db()
    assert shell.state == Finding.OPEN
    history = list(FindingEvent.objects.filter(finding=shell).values_list("user__username", "from_state", "to_state"))
    assert history == [(None, "", "open"), ("triager", "open", "confirmed"), (None, "confirmed", "fixed"),
                       (None, "fixed", "open")]  # fmt: skip


def test_a_scan_of_other_files_does_not_fix_anything(db, tmp_path: Path):
    (tmp_path / "job.py").write_text(CODE)
    (tmp_path / "other.py").write_text("x = 1\n")
    scan(tmp_path)

    partial = scan_folder(tmp_path, tools=["bandit"], files=["other.py"], manifests=[])

    assert partial.fixed_count == 0
    assert not Finding.objects.filter(state=Finding.FIXED).exists()


def test_the_same_issue_found_by_a_gate_and_by_the_cli_is_one_finding(db, tmp_path: Path):
    (tmp_path / "job.py").write_text(CODE)
    scan_folder(tmp_path, source="gate", tools=["bandit"], files=["job.py"], manifests=[])
    scan_folder(tmp_path, source="cli", tools=["bandit"], manifests=[])

    shell = Finding.objects.get(rule_id="B602")
    assert shell.occurrences.count() == 2
    assert sorted(shell.occurrences.values_list("scan__source", flat=True)) == ["cli", "gate"]
