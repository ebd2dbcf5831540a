"""A consumer process killed with SIGKILL mid-run: the run still ends, and nothing stored is lost."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.conftest import make_workflow, subprocess_env, wait_for_run, wait_until
from workflows import runner
from workflows.models import LogLine, Run, TaskAttempt

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def start_consumer() -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_huey", "--workers", "2", "--worker-type", "thread"],
        cwd=ROOT, env=subprocess_env(RUNNER_HEARTBEAT_SECONDS="1"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.fixture
def consumers(transactional_db):
    from huey.contrib.djhuey import HUEY

    HUEY.flush()
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        started.append(start_consumer())
        return started[-1]

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def workflow(tmp_path: Path, attempts: int):
    return make_workflow(
        f"""
name: survives_kill_{attempts}
tasks:
  work:
    run: "echo before-$RUNNER_ATTEMPT; echo second-$RUNNER_ATTEMPT; touch {tmp_path}/started-$RUNNER_ATTEMPT; if [ $RUNNER_ATTEMPT = 1 ]; then sleep 120; fi; echo after-$RUNNER_ATTEMPT"
    retry: {{max_attempts: {attempts}, initial_delay: 0.1}}
  report: {{run: "echo reported", needs: [work]}}
"""
    )


def kill_mid_run(consumers, tmp_path: Path, attempts: int) -> tuple[Run, int]:
    first = consumers()
    run = runner.create_run(workflow(tmp_path, attempts), trigger="api")
    wait_until((tmp_path / "started-1").exists, timeout=30, message="the task never started")
    wait_until(lambda: LogLine.objects.filter(run=run).count() == 2, timeout=15, message="early lines not stored")
    orphan = TaskAttempt.objects.get(taskrun__run=run, number=1).pid
    assert orphan and psutil.pid_exists(orphan)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert Run.objects.get(pk=run.pk).status == Run.RUNNING  # nobody has noticed yet
    consumers()
    return wait_for_run(run.pk, timeout=60), orphan


def test_a_killed_worker_run_is_resumed_and_retried(consumers, tmp_path):
    run, orphan = kill_mid_run(consumers, tmp_path, attempts=2)
    assert run.status == Run.SUCCESS, run.message
    assert run.resumes == 1
    attempts = list(TaskAttempt.objects.filter(taskrun__run=run, taskrun__node_id="work").order_by("number"))
    assert [(a.number, a.status) for a in attempts] == [(1, "lost"), (2, "success")]
    lines = list(
        LogLine.objects.filter(run=run, taskrun__node_id="work")
        .order_by("attempt", "lineno")
        .values_list("attempt", "text")
    )
    assert lines == [(1, "before-1"), (1, "second-1"), (2, "before-2"), (2, "second-2"), (2, "after-2")]
    assert run.tasks.get(node_id="report").status == "success"
    # The lost attempt's process (orphaned in its own session) was ended, not left running.
    wait_until(lambda: not psutil.pid_exists(orphan) or psutil.Process(orphan).status() == psutil.STATUS_ZOMBIE,
               timeout=10, message="the orphaned task process is still running")  # fmt: skip


def test_a_killed_worker_without_retries_left_fails_the_task(consumers, tmp_path):
    run, _ = kill_mid_run(consumers, tmp_path, attempts=1)
    assert run.status == Run.FAILED
    work = run.tasks.get(node_id="work")
    assert work.status == "failed" and "worker lost" in work.reason
    assert run.tasks.get(node_id="report").status == "upstream_failed"
    assert list(LogLine.objects.filter(run=run).order_by("lineno").values_list("text", flat=True)) == [
        "before-1",
        "second-1",
    ]
