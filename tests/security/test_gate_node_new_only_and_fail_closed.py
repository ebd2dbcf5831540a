"""The gate on the run page (a node before the roots, a panel naming the blocking findings, the
snapshot), `new_only`, report-only secret gates, and failing closed when a scan cannot decide."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from security.models import Finding, GateCheck
from security.triage import triage
from tests.conftest import make_workflow
from workflows import runner
from workflows.models import Run
from workflows.snapshots import run_snapshot

pytestmark = pytest.mark.integration
SVG = "{http://www.w3.org/2000/svg}"
SHELL = "import subprocess, sys\nsubprocess.call(sys.argv[1:], shell=True)\n"


def run_now(workflow) -> Run:
    run = runner.create_run(workflow, enqueue=False)
    runner.execute(run.pk)
    return Run.objects.get(pk=run.pk)


def test_the_gate_is_a_node_before_the_roots_and_the_page_lists_what_blocked(transactional_db, client_as, tmp_path):
    (tmp_path / "build.py").write_text(SHELL)
    workflow = make_workflow("name: pictured\ngates: {code: {}}\ntasks:\n  build: {run: python build.py}\n"
                             "  lint: {run: 'true'}\n  ship: {run: 'true', needs: [build, lint]}\n",
                             base_dir=str(tmp_path))  # fmt: skip
    run = run_now(workflow)
    finding = Finding.objects.get(rule_id="B602")

    html = client_as("viewer").get(f"/runs/{run.pk}/").content.decode()

    svg = ET.fromstring(html[html.index("<svg") : html.index("</svg>") + 6])
    gate = svg.find(f".//{SVG}g[@data-node='security:gate']")
    assert gate is not None and gate.get("class") == "node pre status-failed"
    edges = {(p.get("data-source"), p.get("data-target")) for p in svg.findall(f"{SVG}path")}
    assert {("security:gate", "build"), ("security:gate", "lint")} <= edges
    assert ("security:gate", "ship") not in edges
    assert 'id="gate-panel"' in html and f'href="/findings/{finding.pk}/"' in html
    extras = run_snapshot(run.pk)["extras"]["security"]
    assert extras["status"] == "blocked" and extras["blocking"][0]["id"] == finding.pk
    api = client_as("viewer").get(f"/api/security/gates/{run.pk}/").json()
    assert api["status"] == "blocked" and api["gates"]["code"]["blocking"] == 1


def test_new_only_blocks_only_on_findings_the_last_successful_run_did_not_see(transactional_db, users, tmp_path):
    (tmp_path / "build.py").write_text(SHELL)
    workflow = make_workflow("name: fresh\ngates: {code: {new_only: true}}\ntasks:\n  build: {run: 'true'}\n"
                             "  use: {run: python build.py true, needs: [build]}\n", base_dir=str(tmp_path))  # fmt: skip
    first = run_now(workflow)  # nothing succeeded yet: everything is new
    old = Finding.objects.get(rule_id="B602")
    triage([old], state=Finding.FALSE_POSITIVE, user=users["triager"], comment="for now")
    passed = run_now(workflow)
    triage([old], state=Finding.OPEN, user=users["triager"], comment="reopened")

    still_passes = run_now(workflow)  # open again, but the last successful run saw it: not new
    (tmp_path / "build.py").write_text(SHELL + "import os\nos.system(sys.argv[1])\n")
    blocked = run_now(workflow)

    assert (first.status, passed.status, still_passes.status, blocked.status) == ("failed", "success", "success",
                                                                                   "failed")  # fmt: skip
    new = Finding.objects.get(rule_id="B605")
    assert f"finding #{new.pk}" in blocked.message and f"finding #{old.pk}" not in blocked.message


def test_a_report_only_secrets_gate_records_but_does_not_block(transactional_db, tmp_path):
    from .conftest import AWS_KEY

    (tmp_path / "job.py").write_text(f'KEY = "{AWS_KEY}"\nprint("hi")\n')
    workflow = make_workflow("name: noted\ngates: {secrets: {block: false}}\ntasks:\n  a: {run: python job.py}\n",
                             base_dir=str(tmp_path))  # fmt: skip

    run = run_now(workflow)

    assert run.status == Run.SUCCESS
    gate = GateCheck.objects.get(run=run)
    assert gate.status == "passed" and gate.gates["secrets"]["seen"] >= 1
    assert AWS_KEY not in (run.message + gate.message)


def test_a_gate_that_cannot_check_fails_closed(transactional_db, tmp_path):
    (tmp_path / "job.py").write_text("print('hi')\n")
    workflow = make_workflow("name: closed\ngates: {dependencies: {requirements: missing.txt}}\n"
                             "tasks:\n  a: {run: python job.py}\n", base_dir=str(tmp_path))  # fmt: skip

    run = run_now(workflow)

    assert run.status == Run.FAILED and "could not check" in run.message and "missing.txt" in run.message
    assert GateCheck.objects.get(run=run).status == "error"
    assert not run.tasks.filter(attempts__gt=0).exists()


def test_a_dependencies_gate_with_no_requirements_file_fails_closed(transactional_db, tmp_path):
    (tmp_path / "job.py").write_text("print('hi')\n")  # and no requirements.txt, pyproject.toml, poetry.lock
    workflow = make_workflow("name: unpinned\ngates: {dependencies: {}}\ntasks:\n  a: {run: python job.py}\n",
                             base_dir=str(tmp_path))  # fmt: skip

    run = run_now(workflow)

    gate = GateCheck.objects.get(run=run)
    assert run.status == Run.FAILED and gate.status == "error"
    assert "dependencies gate: no requirements file found in" in gate.message
    assert str(tmp_path.resolve()) in gate.message and "gates.dependencies.requirements" in run.message
    assert not run.tasks.filter(attempts__gt=0).exists()
