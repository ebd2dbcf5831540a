"""The command line: validate_workflow, run_workflow and run_script, run as real subprocesses.

They share this test's database and queue (tests.conftest.subprocess_env), so a test can look
at what a command stored, and a consumer in this process can run what a command queued.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from django.core.management import call_command
from huey.contrib.djhuey import HUEY

from tests.conftest import subprocess_env, wait_for_run, wait_until
from workflows import recovery
from workflows.models import Run, Workflow

ROOT = Path(__file__).resolve().parents[2]

DEMO = """
name: cli_demo
params:
  who: {default: world}
tasks:
  hello: {run: "echo hello ${{ params.who }}"}
  done: {run: "echo done", needs: [hello]}
"""

BROKEN = """
name: cli_broken
tasks:
  broken: {run: "echo about to fail; exit 3"}
"""

INVALID = """name: cli_invalid
tasks:
  a: {run: 3, nedds: [b]}
  b: {}
"""


def manage(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, encoding="utf-8", timeout=timeout,
    )  # fmt: skip


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def one_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# ------------------------------------------------------------------ validate_workflow


def test_validate_workflow_says_valid(tmp_path):
    result = manage("validate_workflow", write(tmp_path, "demo.yaml", DEMO))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "valid\n"


def test_validate_workflow_lists_every_error_with_its_line_and_field(tmp_path):
    path = write(tmp_path, "invalid.yaml", INVALID)
    result = manage("validate_workflow", path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    found = [re.fullmatch(rf"{re.escape(path)}: line (\d+): ([\w.\[\]]+): (.+)", line) for line in lines]
    assert all(found), lines
    assert [(int(m[1]), m[2]) for m in found] == [(3, "tasks.a.nedds"), (3, "tasks.a.run"), (4, "tasks.b.run")]
    assert result.stdout == ""


@pytest.mark.parametrize("command", ["validate_workflow", "run_workflow"])
def test_a_missing_file_is_one_clear_line(tmp_path, command):
    result = manage(command, str(tmp_path / "nowhere.yaml"))
    assert result.returncode == 1
    assert one_line(result).endswith("nowhere.yaml: no such file")


# ------------------------------------------------------------------ run_workflow --wait, no worker


def test_run_workflow_wait_without_a_worker_runs_it_here(transactional_db, tmp_path):
    result = manage("run_workflow", write(tmp_path, "demo.yaml", DEMO), "--wait")
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert out[0] == "running #1 of cli_demo here (no worker is running)"
    assert "hello | hello world" in out and "done | done" in out
    assert any(line.startswith("✓ hello success") for line in out)
    assert out.index("hello | hello world") < out.index("done | done")
    assert out[-1] == "run #1 of cli_demo: success"
    run = Run.objects.get()
    assert (run.status, run.trigger) == (Run.SUCCESS, "cli")


def test_running_here_loads_what_runs_need_before_the_run_starts(transactional_db, tmp_path, monkeypatch):
    """As a worker does when it starts (the price catalogue takes ~0.6 s to build): otherwise the
    loading would count as the run's time and show in its trace as a gap before the first task."""
    from workflows import extensions, runner

    order: list[str] = []
    monkeypatch.setattr(extensions, "warm_up", lambda: order.append("warm_up"))
    started = runner.execute_in_thread
    monkeypatch.setattr(runner, "execute_in_thread", lambda run_id: order.append("run") or started(run_id))
    call_command("run_workflow", write(tmp_path, "demo.yaml", DEMO), "--wait", stdout=io.StringIO())
    assert order == ["warm_up", "run"]
    assert Run.objects.get().status == Run.SUCCESS


def test_a_failed_run_exits_1(transactional_db, tmp_path):
    result = manage("run_workflow", write(tmp_path, "broken.yaml", BROKEN), "--wait")
    assert result.returncode == 1
    assert "broken | about to fail" in result.stdout
    assert "✗ broken failed" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("run #1 of cli_broken: failed")


def test_a_param_reaches_the_tasks(transactional_db, tmp_path):
    result = manage("run_workflow", write(tmp_path, "demo.yaml", DEMO), "--wait", "--param", "who=ada lovelace")
    assert result.returncode == 0, result.stderr
    assert "hello | hello ada lovelace" in result.stdout
    assert Run.objects.get().params == {"who": "ada lovelace"}


def test_an_unknown_param_is_one_clear_line(transactional_db, tmp_path):
    result = manage("run_workflow", write(tmp_path, "demo.yaml", DEMO), "--wait", "--param", "whom=ada")
    assert result.returncode == 1
    assert "unknown parameter 'whom'" in one_line(result)
    assert not Workflow.objects.exists()  # nothing stored for a mistyped command


def test_a_param_without_equals_is_one_clear_line(transactional_db, tmp_path):
    result = manage("run_workflow", write(tmp_path, "demo.yaml", DEMO), "--wait", "--param", "who")
    assert result.returncode == 1
    assert "--param 'who': expected KEY=VALUE" in one_line(result)
    assert not Run.objects.exists()


def test_running_a_changed_file_adds_a_version(transactional_db, tmp_path):
    path = write(tmp_path, "demo.yaml", DEMO)
    assert manage("run_workflow", path, "--wait").returncode == 0
    write(tmp_path, "demo.yaml", DEMO.replace("echo done", "echo finished"))
    second = manage("run_workflow", path, "--wait")
    assert second.returncode == 0, second.stderr
    assert "done | finished" in second.stdout
    workflow = Workflow.objects.get(name="cli_demo")
    assert workflow.version == 2
    assert list(workflow.versions.values_list("version", flat=True)) == [2, 1]
    assert [r.workflow_version.version for r in workflow.runs.order_by("number")] == [1, 2]


# ------------------------------------------------------------------ run_workflow through the queue


@pytest.fixture
def empty_queue():
    HUEY.flush()
    yield HUEY
    HUEY.flush()


@pytest.mark.integration
def test_without_wait_and_no_worker_it_is_queued(transactional_db, empty_queue, tmp_path):
    result = manage("run_workflow", write(tmp_path, "demo.yaml", DEMO))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("queued run #1 of cli_demo: http")
    assert "no worker is running" in result.stdout
    assert Run.objects.get().status == Run.QUEUED
    assert empty_queue.pending_count() == 1


@pytest.mark.integration
def test_without_wait_a_live_worker_runs_it(consumer, tmp_path):
    wait_until(recovery.consumer_alive, message="the consumer never reported in")
    result = manage("run_workflow", write(tmp_path, "demo.yaml", DEMO), "--param", "who=queue")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("queued run #1 of cli_demo")
    assert "no worker" not in result.stdout
    run = wait_for_run(Run.objects.get().pk)
    assert run.status == Run.SUCCESS
    assert run.worker == recovery.worker_id()  # this process's consumer ran it, not the CLI
    assert list(run.log_lines.filter(taskrun__node_id="hello").values_list("text", flat=True)) == ["hello queue"]


@pytest.mark.integration
def test_wait_with_a_live_worker_follows_the_run_it_queued(consumer, tmp_path):
    wait_until(recovery.consumer_alive, message="the consumer never reported in")
    result = manage("run_workflow", write(tmp_path, "demo.yaml", DEMO), "--wait")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("queued run #1 of cli_demo")
    assert "hello | hello world" in result.stdout
    assert result.stdout.splitlines()[-1] == "run #1 of cli_demo: success"
    assert Run.objects.get().worker == recovery.worker_id()


# ------------------------------------------------------------------ run_script

ATTEMPT = re.compile(
    r"  attempt (\d+): (\w+), (exit code -?\d+|killed[\w ]*), wall ([\d.]+)s, "
    r"cpu ([\d.]+)s user \+ ([\d.]+)s sys, peak memory (?:([\d.]+) (B|KiB|MiB|GiB)|not measured \(too short\))"
)
UNITS = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}


def attempts(stdout: str) -> list[re.Match]:
    return [m for line in stdout.splitlines() if (m := ATTEMPT.fullmatch(line))]


def script(tmp_path: Path, body: str) -> str:
    return write(tmp_path, "job.py", "import sys, time\n" + body)


def test_run_script_prints_what_the_script_used(transactional_db, tmp_path):
    path = script(tmp_path, "block = b'x' * (64 * 1024 * 1024)\ntime.sleep(0.6)\nprint('args', sys.argv[1:])\n")
    result = manage("run_script", path, "one", "two")
    assert result.returncode == 0, result.stderr
    assert "script | args ['one', 'two']" in result.stdout
    [attempt] = attempts(result.stdout)
    assert attempt.group(1, 2, 3) == ("1", "success", "exit code 0")
    assert float(attempt[4]) >= 0.6
    assert float(attempt[7]) * UNITS[attempt[8]] >= 64 * 1024**2
    assert re.search(
        r"^  total: 1 attempt\(s\), wall [\d.]+s, cpu [\d.]+s, peak memory [\d.]+ MiB$", result.stdout, re.M
    )


def test_script_arguments_may_start_with_a_dash_after_double_dash(transactional_db, tmp_path):
    path = script(tmp_path, "print('args', sys.argv[1:])\n")
    result = manage("run_script", path, "--timeout", "30", "plain", "--", "--verbose", "-n")
    assert result.returncode == 0, result.stderr
    assert "script | args ['plain', '--verbose', '-n']" in result.stdout


def test_a_script_that_keeps_failing_is_tried_retries_plus_one_times_and_exits_1(transactional_db, tmp_path):
    result = manage("run_script", script(tmp_path, "sys.exit(3)\n"), "--retries", "1")
    assert result.returncode == 1
    assert [(m[1], m[2], m[3]) for m in attempts(result.stdout)] == [
        ("1", "failed", "exit code 3"),
        ("2", "failed", "exit code 3"),
    ]
    assert "  total: 2 attempt(s)" in result.stdout


def test_a_flaky_script_is_retried_until_it_passes(transactional_db, tmp_path):
    counter = tmp_path / "tries"
    body = f"from pathlib import Path\np = Path({str(counter)!r})\nn = int(p.read_text()) + 1 if p.exists() else 1\n"
    body += "p.write_text(str(n))\nsys.exit(0 if n == 3 else 1)\n"
    result = manage("run_script", script(tmp_path, body), "--retries", "2")
    assert result.returncode == 0, result.stdout
    assert [(m[1], m[2]) for m in attempts(result.stdout)] == [("1", "failed"), ("2", "failed"), ("3", "success")]
    assert result.stdout.count("↻ script retrying") == 2


def test_a_timeout_kills_the_script_and_exits_1(transactional_db, tmp_path):
    pid_file = tmp_path / "pid"
    body = f"import os\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)\n"
    result = manage("run_script", script(tmp_path, body), "--timeout", "1", timeout=30)
    assert result.returncode == 1
    [attempt] = attempts(result.stdout)
    assert attempt[2] == "timeout" and attempt[3].startswith("killed")
    assert 1 <= float(attempt[4]) < 10
    pid = int(pid_file.read_text())
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_missing_script_is_one_clear_line(transactional_db, tmp_path):
    result = manage("run_script", str(tmp_path / "nowhere.py"))
    assert result.returncode == 1
    assert one_line(result).endswith("nowhere.py: no such file")
    assert not Run.objects.exists()
