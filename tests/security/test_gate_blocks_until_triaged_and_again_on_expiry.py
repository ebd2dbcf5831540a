"""A run's security gate end to end: it blocks on a finding, triage lets the next run through,
and when the risk acceptance runs out the gate blocks again."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from security.models import Finding, FindingEvent, GateCheck
from security.triage import triage
from tests.conftest import make_workflow
from workflows import runner
from workflows.models import Run

pytestmark = pytest.mark.integration

WORKFLOW = """\
name: gated_deploy
gates: {code: {block_on: high}}
tasks:
  build: {run: python build.py}
  ship: {run: "true", needs: [build]}
"""


def run_now(workflow) -> Run:
    run = runner.create_run(workflow, enqueue=False)
    runner.execute(run.pk)
    return Run.objects.get(pk=run.pk)


def test_gate_blocks_then_triage_unblocks_then_expiry_blocks_again(transactional_db, users, tmp_path: Path):
    (tmp_path / "build.py").write_text("import subprocess, sys\nsubprocess.call(sys.argv[1:], shell=True)\n")
    workflow = make_workflow(WORKFLOW, base_dir=str(tmp_path))

    blocked = run_now(workflow)

    assert blocked.status == Run.FAILED
    finding = Finding.objects.get(rule_id="B602")
    assert f"finding #{finding.pk}" in blocked.message and "B602" in blocked.message
    assert not blocked.tasks.filter(attempts__gt=0).exists()
    gate = GateCheck.objects.get(run=blocked)
    assert gate.status == GateCheck.BLOCKED
    assert [b["id"] for b in gate.blocking] == [finding.pk]
    assert gate.blocking[0]["url"] == f"/findings/{finding.pk}/"

    triage([finding], state=Finding.ACCEPTED_RISK, user=users["triager"], comment="argv comes from our own CI",
           accepted_until=timezone.now() + timedelta(days=7))  # fmt: skip
    passed = run_now(workflow)

    assert passed.status == Run.SUCCESS
    assert GateCheck.objects.get(run=passed).status == GateCheck.PASSED
    assert passed.tasks.get(node_id="build").attempts == 1

    # A week later: the acceptance has run out.
    Finding.objects.filter(pk=finding.pk).update(accepted_until=timezone.now() - timedelta(seconds=1))
    again = run_now(workflow)

    assert again.status == Run.FAILED and f"finding #{finding.pk}" in again.message
    finding.refresh_from_db()
    assert finding.state == Finding.OPEN
    history = list(FindingEvent.objects.filter(finding=finding).values_list("from_state", "to_state"))
    assert history == [("", "open"), ("open", "accepted_risk"), ("accepted_risk", "open")]
    assert finding.occurrences.count() == 3
