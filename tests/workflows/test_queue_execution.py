"""Runs go through the real Huey queue and consumer, in whichever runtime mode the settings select."""

from __future__ import annotations

import pytest

from tests.conftest import make_workflow, wait_for_run, wait_until
from workflows import recovery, runner
from workflows.models import LogLine, Run, TaskAttempt, TaskRun

pytestmark = pytest.mark.integration

ETL = """
name: etl
max_parallel: 3
tasks:
  extract: {run: "echo extracting; echo rows=2 >> $RUNNER_OUTPUT"}
  transform: {run: "echo fmt=${{ matrix.format }}", needs: [extract], matrix: {format: [csv, json]}}
  load: {run: "echo loading ${{ tasks.extract.outputs.rows }} rows", needs: ["transform[*]"], skip_if: "extract.outputs.rows == 0"}
  notify: {run: "echo done", needs: [load], run_always: true}
"""


def test_it_runs_a_workflow_through_the_queue(consumer):
    run = runner.create_run(make_workflow(ETL), trigger="api")
    run = wait_for_run(run.pk)
    assert run.status == Run.SUCCESS
    statuses = dict(run.tasks.values_list("node_id", "status"))
    assert statuses == {
        "extract": "success",
        "transform[format=csv]": "success",
        "transform[format=json]": "success",
        "load": "success",
        "notify": "success",
    }
    load = run.tasks.get(node_id="load")
    assert list(load.log_lines.values_list("text", flat=True)) == ["loading 2 rows"]
    assert run.tasks.get(node_id="extract").outputs == {"rows": "2"}
    attempt = TaskAttempt.objects.get(taskrun__run=run, taskrun__node_id="extract")
    assert attempt.exit_code == 0 and attempt.wall_s > 0 and attempt.finished_at >= attempt.started_at
    assert run.started_at and run.finished_at and run.worker
    # Every stored change got its own sequence number.
    seqs = sorted(run.tasks.values_list("seq", flat=True))
    assert len(set(seqs)) == len(seqs) and max(seqs) < run.last_seq


def test_a_failure_marks_downstream_and_fails_the_run(consumer):
    text = """
name: failing
tasks:
  a: {run: "echo before; exit 3"}
  b: {run: "true", needs: [a]}
  cleanup: {run: "echo cleaning", needs: [b], run_always: true}
"""
    run = wait_for_run(runner.create_run(make_workflow(text)).pk)
    assert run.status == Run.FAILED
    statuses = dict(run.tasks.values_list("node_id", "status"))
    assert statuses == {"a": "failed", "b": "upstream_failed", "cleanup": "success"}
    assert run.tasks.get(node_id="a").exit_code == 3
    assert list(LogLine.objects.filter(taskrun__node_id="a", run=run).values_list("text", flat=True)) == ["before"]


def test_cancel_stops_a_running_run(consumer, tmp_path):
    marker = tmp_path / "started"
    text = f"""
name: slow
tasks:
  wait: {{run: "touch {marker}; sleep 30"}}
  after: {{run: "true", needs: [wait]}}
"""
    run = runner.create_run(make_workflow(text))
    wait_until(marker.exists, timeout=15, message="task never started")
    assert runner.request_cancel(Run.objects.get(pk=run.pk))
    run = wait_for_run(run.pk, timeout=15)
    assert run.status == Run.CANCELLED
    statuses = dict(run.tasks.values_list("node_id", "status"))
    assert statuses == {"wait": "cancelled", "after": "cancelled"}, list(run.tasks.values_list("reason", flat=True))


def test_rerun_failed_tasks_reuses_what_succeeded(consumer, tmp_path):
    flag = tmp_path / "fixed"
    text = f"""
name: flaky
tasks:
  first: {{run: "echo n=1 >> $RUNNER_OUTPUT"}}
  second: {{run: "test -e {flag}", needs: [first]}}
  third: {{run: "echo got ${{{{ tasks.first.outputs.n }}}}", needs: [second]}}
"""
    original = wait_for_run(runner.create_run(make_workflow(text)).pk)
    assert original.status == Run.FAILED
    flag.touch()
    again = wait_for_run(runner.rerun(original, failed_only=True).pk)
    assert again.status == Run.SUCCESS and again.rerun_of_id == original.pk
    first = again.tasks.get(node_id="first")
    assert first.reused and first.attempts == 0 and first.outputs == {"n": "1"}
    assert not TaskAttempt.objects.filter(taskrun=first).exists()
    third = again.tasks.get(node_id="third")
    assert list(third.log_lines.values_list("text", flat=True)) == ["got 1"]


def test_retries_are_recorded_per_attempt(consumer):
    text = """
name: retrying
tasks:
  flaky: {run: "echo try $RUNNER_ATTEMPT; test $RUNNER_ATTEMPT -ge 3", retry: {max_attempts: 3, initial_delay: 0.05, backoff: 1}}
"""
    run = wait_for_run(runner.create_run(make_workflow(text)).pk)
    assert run.status == Run.SUCCESS
    task = run.tasks.get()
    assert task.attempts == 3
    assert list(task.attempt_set.values_list("number", "status")) == [(1, "failed"), (2, "failed"), (3, "success")]
    lines = list(task.log_lines.order_by("attempt", "lineno").values_list("attempt", "lineno", "text"))
    assert lines == [(1, 1, "try 1"), (2, 1, "try 2"), (3, 1, "try 3")]
    assert TaskRun.objects.get(pk=task.pk).status == "success"


def test_a_stopped_consumer_is_no_longer_taken_for_alive(transactional_db):
    from dashboard.management.commands.serve import start_embedded_consumer

    consumer = start_embedded_consumer(workers=1)
    wait_until(recovery.consumer_alive, timeout=10, message="the consumer never said it was alive")
    consumer.stop(graceful=True)
    assert not recovery.consumer_alive()


def test_a_run_whose_queued_event_cannot_be_sent_still_runs(consumer, monkeypatch):
    """The "queued" event is sent when create_run's transaction commits, just before the run is
    handed to the queue: should sending fail, the run must still be queued and run."""

    def broken(*args, **kwargs):
        raise RuntimeError("the channel layer is gone")

    monkeypatch.setattr("workflows.runner.publish_events", broken)
    run = runner.create_run(make_workflow("name: q\ntasks:\n  a: {run: 'true'}\n"), trigger="api")
    assert Run.objects.get(pk=run.pk).last_seq >= 1  # seq 1 went to the event that was not sent
    assert wait_for_run(run.pk).status == Run.SUCCESS
