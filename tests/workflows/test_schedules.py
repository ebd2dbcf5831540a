"""Workflows with a cron `schedule:` start runs by themselves, once per matching minute."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.conftest import make_workflow
from workflows import runner
from workflows.models import Run


def test_a_matching_minute_starts_one_run(db):
    workflow = make_workflow("name: nightly\nschedule: '30 2 * * *'\ntasks:\n  a: {run: 'true'}\n")
    assert workflow.schedule == "30 2 * * *"
    at = datetime(2026, 11, 25, 2, 30, 17, tzinfo=UTC)
    started = runner.trigger_scheduled(at)
    assert [run.trigger for run in started] == ["schedule"]
    # A second consumer asking in the same minute starts nothing more.
    assert runner.trigger_scheduled(at.replace(second=50)) == []
    assert Run.objects.filter(workflow=workflow).count() == 1


def test_other_minutes_and_unscheduled_workflows_start_nothing(db):
    make_workflow("name: nightly\nschedule: '30 2 * * *'\ntasks:\n  a: {run: 'true'}\n")
    make_workflow("name: manual\ntasks:\n  a: {run: 'true'}\n")
    assert runner.trigger_scheduled(datetime(2026, 11, 25, 2, 31, tzinfo=UTC)) == []
    assert not Run.objects.exists()


def test_the_next_matching_minute_starts_another_run(db):
    workflow = make_workflow("name: often\nschedule: '*/5 * * * *'\ntasks:\n  a: {run: 'true'}\n")
    runner.trigger_scheduled(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    runner.trigger_scheduled(datetime(2026, 11, 25, 10, 5, tzinfo=UTC))
    assert list(workflow.runs.order_by("number").values_list("number", flat=True)) == [1, 2]
