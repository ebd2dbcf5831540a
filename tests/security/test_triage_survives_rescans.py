"""Re-scans: a finding seen again is the same finding (its lines may move), triage decisions stay,
what disappears is fixed, what comes back is reopened; every change is in the history."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from security import ingest
from security.models import Finding, FindingEvent
from security.scanning import scan_folder
from security.triage import parse_expiry, triage

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


def in_a_month() -> str:
    return (timezone.now() + timedelta(days=30)).date().isoformat()


def decide(users, until: str) -> None:
    """The triager's decisions: the pickle is a false positive, the shell call an accepted risk."""
    triage(Finding.objects.filter(rule_id="B301"), state=Finding.FALSE_POSITIVE, user=users["triager"],
           comment="blob is our own cache")  # fmt: skip
    triage(Finding.objects.filter(rule_id="B602"), state=Finding.ACCEPTED_RISK, user=users["triager"],
           comment="only ever called with our constants", accepted_until=until)  # fmt: skip


def assert_decisions_kept(users, until: str) -> None:
    pickle_finding, shell = Finding.objects.get(rule_id="B301"), Finding.objects.get(rule_id="B602")
    assert (pickle_finding.state, pickle_finding.state_reason) == (Finding.FALSE_POSITIVE, "blob is our own cache")
    assert (shell.state, shell.state_reason) == (Finding.ACCEPTED_RISK, "only ever called with our constants")
    assert shell.accepted_until == parse_expiry(until) and shell.triaged_by == users["triager"]
    assert pickle_finding.occurrence_count == shell.occurrence_count == 2  # the re-scan did see them
    assert not FindingEvent.objects.filter(finding__in=[pickle_finding, shell], user=None).exclude(from_state="")


def triage_during(monkeypatch, step: str, decision, when=lambda *args, **kwargs: True) -> list:
    """Make the triage `decision` once, as the scan being stored reaches its first call of
    ingest.<step> that `when` accepts; the returned list is empty once it ran."""
    original, pending = getattr(ingest, step), [decision]

    def step_after_the_triage(*args, **kwargs):
        if pending and when(*args, **kwargs):
            pending.pop()()
        return original(*args, **kwargs)

    monkeypatch.setattr(ingest, step, step_after_the_triage)
    return pending


def test_false_positive_and_accepted_risk_survive_rescans(db, users, tmp_path: Path):
    (tmp_path / "job.py").write_text(CODE)
    scan(tmp_path)
    until = in_a_month()
    decide(users, until)

    scan(tmp_path)

    assert_decisions_kept(users, until)


def test_a_triage_made_while_a_scan_is_stored_is_kept(db, users, tmp_path: Path, monkeypatch):
    """The triage lands after the scan read the findings and before it writes them back. (On SQLite
    the scan's write transaction keeps it out; on PostgreSQL the scan locks the rows: this runs the
    interleaving those prevent, to show the scan writes back only what it changes.)"""
    (tmp_path / "job.py").write_text(CODE)
    scan(tmp_path)
    until = in_a_month()
    # _finding_values is first called for the rows the scan has just read, before it writes them back.
    pending = triage_during(monkeypatch, "_finding_values", lambda: decide(users, until))

    scan(tmp_path)

    assert not pending
    assert_decisions_kept(users, until)


def test_a_triage_made_while_a_scan_reopens_or_fixes_findings_is_kept(db, users, tmp_path: Path, monkeypatch):
    (tmp_path / "job.py").write_text(CODE)
    scan(tmp_path)
    (tmp_path / "job.py").write_text(CODE.replace("pickle.loads(blob)", "blob"))
    scan(tmp_path)  # the pickle call is gone: fixed
    (tmp_path / "job.py").write_text(CODE.replace("subprocess.call(cmd, shell=True)", "subprocess.call(cmd)"))
    pending = triage_during(monkeypatch, "_finding_values", lambda: decide(users, in_a_month()))

    scan(tmp_path)  # the pickle call is back (fixed, so reopened) and the shell call is gone (open, so fixed)

    assert not pending
    pickle_finding, shell = Finding.objects.get(rule_id="B301"), Finding.objects.get(rule_id="B602")
    assert (pickle_finding.state, shell.state) == (Finding.FALSE_POSITIVE, Finding.ACCEPTED_RISK)
    last = list(FindingEvent.objects.filter(finding__in=[pickle_finding, shell], user=None, scan__isnull=False)
                .order_by("id").values_list("finding__rule_id", "to_state"))  # fmt: skip
    assert last == [("B301", "open"), ("B602", "open"), ("B301", "fixed")]  # nothing after the triage


def test_a_triage_made_after_a_scan_found_what_it_no_longer_sees_is_kept(db, users, tmp_path: Path, monkeypatch):
    (tmp_path / "job.py").write_text(CODE)
    scan(tmp_path)
    (tmp_path / "job.py").write_text(CODE.replace("subprocess.call(cmd, shell=True)", "subprocess.call(cmd)"))
    until = in_a_month()

    def accept():  # after the scan picked the shell call as fixed, before it writes that
        triage(Finding.objects.filter(rule_id="B602"), state=Finding.ACCEPTED_RISK, user=users["triager"],
               comment="only ever called with our constants", accepted_until=until)  # fmt: skip

    pending = triage_during(monkeypatch, "_change_states", accept, when=lambda *a, **kw: kw["to_state"] == "fixed")

    fixing = scan(tmp_path)

    shell = Finding.objects.get(rule_id="B602")
    assert not pending and fixing.fixed_count == 0
    assert (shell.state, shell.accepted_until) == (Finding.ACCEPTED_RISK, parse_expiry(until))
    assert not FindingEvent.objects.filter(finding=shell, to_state=Finding.FIXED).exists()


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
