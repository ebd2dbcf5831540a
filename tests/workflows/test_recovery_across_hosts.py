"""Workers on several hosts: a run claimed by a worker on another host is resumed only once that
worker's heartbeat is older than RUNNER_HEARTBEAT_TIMEOUT (its pid means nothing here), and of
two workers taking the same queued run, exactly one runs it."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import make_workflow
from workflows import recovery, runner
from workflows.models import Run

pytestmark = pytest.mark.django_db(transaction=True)


def running_elsewhere(heartbeat_age_s: float) -> Run:
    run = runner.create_run(make_workflow("name: far\ntasks:\n  a: {run: 'true'}\n"), enqueue=False)
    # pid 1 exists here too: only the host in the claim says it is not ours to look at.
    Run.objects.filter(pk=run.pk).update(
        status=Run.RUNNING, worker="another-host.example:1:1700000000",
        heartbeat_at=timezone.now() - timedelta(seconds=heartbeat_age_s),
    )  # fmt: skip
    return run


def test_a_fresh_heartbeat_from_another_host_keeps_its_run(settings, monkeypatch):
    monkeypatch.setattr(runner, "enqueue_run", lambda run_id: None)
    run = running_elsewhere(heartbeat_age_s=1)
    assert recovery.reap_orphans() == []
    assert Run.objects.get(pk=run.pk).status == Run.RUNNING


def test_a_stale_heartbeat_from_another_host_gives_the_run_back(settings, monkeypatch):
    queued: list[int] = []
    monkeypatch.setattr(runner, "enqueue_run", queued.append)
    run = running_elsewhere(heartbeat_age_s=settings.RUNNER_HEARTBEAT_TIMEOUT + 5)
    assert recovery.reap_orphans() == [run.pk] and queued == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.worker, run.resumes) == (Run.QUEUED, "", 1)
    assert run.message == "resuming after its worker was lost"


def test_two_workers_taking_one_run_run_it_once():
    run = runner.create_run(make_workflow("name: once\ntasks:\n  a: {run: 'echo ran'}\n"), enqueue=False)
    results: list[object] = []
    start = threading.Barrier(2)

    def take() -> None:
        from django.db import connection

        start.wait()
        try:
            results.append(runner.execute(run.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=take) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 2 and results.count(None) == 1  # the other found it taken
    run.refresh_from_db()
    assert run.status == Run.SUCCESS
    assert list(run.log_lines.values_list("text", flat=True)) == ["ran"]
    assert run.tasks.get().attempts == 1
