"""The findings list's other filters, on a real scan: a workflow (by id or name), a file or
folder (a path prefix), a rule, one state, and "new since" a day."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from security.listing import filtered
from security.models import Finding
from security.scanning import scan_folder
from tests.conftest import make_workflow


@pytest.fixture
def findings(db, project: Path):
    scan_folder(project, tools=["bandit", "semgrep", "detect-secrets"])
    assert Finding.objects.count() >= 4
    return Finding.objects.all()


def ids(params: dict[str, str]) -> set[int]:
    return set(filtered(params)[0].values_list("id", flat=True))


def test_a_rule_and_a_path_prefix(findings):
    rule = findings.values_list("rule_id", flat=True).first()
    assert ids({"rule": rule}) == set(findings.filter(rule_id=rule).values_list("id", flat=True))
    path = findings.exclude(path="").values_list("path", flat=True).first()
    folder = path.rpartition("/")[0] + "/" if "/" in path else path
    expected = {f.pk for f in findings if f.path.startswith(folder)}
    assert expected and ids({"path": folder}) == expected
    assert ids({"path": "no/such/folder/"}) == set()


def test_one_state_and_the_default_active_group(findings):
    confirmed = findings.first()
    Finding.objects.filter(pk=confirmed.pk).update(state=Finding.CONFIRMED)
    fixed = findings.exclude(pk=confirmed.pk).first()
    Finding.objects.filter(pk=fixed.pk).update(state=Finding.FIXED)
    assert ids({"state": "confirmed"}) == {confirmed.pk}
    assert ids({"state": "fixed"}) == {fixed.pk}
    assert confirmed.pk in ids({}) and fixed.pk not in ids({})  # the default: open and confirmed


def test_a_workflow_by_id_or_name(findings):
    workflow = make_workflow("name: scanned_wf\ntasks:\n  a: {run: 'true'}\n")
    some = list(findings.values_list("id", flat=True)[:2])
    Finding.objects.filter(pk__in=some).update(workflow=workflow)
    assert ids({"workflow": str(workflow.pk)}) == set(some)
    assert ids({"workflow": "scanned_wf"}) == set(some)
    assert ids({"workflow": "no_such_workflow"}) == set()


def test_new_since_a_day(findings):
    old = findings.first()
    Finding.objects.filter(pk=old.pk).update(first_seen_at=timezone.now() - timedelta(days=10))
    today = timezone.now().date().isoformat()
    assert old.pk not in ids({"new_since": today}) and len(ids({"new_since": today})) == findings.count() - 1
    assert old.pk in ids({"new_since": (timezone.now() - timedelta(days=11)).date().isoformat()})
