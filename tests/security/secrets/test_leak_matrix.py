"""The leak matrix: a task prints its secrets in every form (raw, base64 with and without padding
and of the value plus newline, URL-encoded, JSON-escaped, hex, each line of a multi-line value,
inside a longer base64 stream, one line split across two reads of the pipe), on stdout and
stderr, writes them to outputs, and a second task fails with the secret as its error message.
None of those forms may be found anywhere afterwards: in any column of any row of any model
(so a new table that stores a secret fails this test without being named here), in the API's
answers, on the run page, or in the output of `run_workflow --wait`. The WebSocket frames a
browser receives are checked in tests/browser/test_secrets_leak_websocket.py.

The first test shows the search finds every form when masking is off: the task does print all
of them, and a sink that forgot to mask would be caught.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from security.models import SecretRead
from tests.conftest import make_workflow, subprocess_env, wait_for_run
from tracing.models import Span
from workflows import runner
from workflows.models import LogLine, Run, TaskRun

from .leaks import MULTI, SINGLE, all_forms, database_rows, leak_workflow, leaks, make_values

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def leaky(make_provider, vault_secret, tmp_path):
    """(workflow file, its text, the values, every form of them) for a workflow named `leak-…`."""
    make_provider("leak-vault", workflows=["leak-*"])
    values = make_values()
    path = vault_secret({"one": values[SINGLE], "pem": values[MULTI]})
    text = leak_workflow(tmp_path, f"leak-{tmp_path.name[-12:].replace('_', '-')}", "leak-vault", path)
    file = tmp_path / "leak.yaml"
    file.write_text(text)
    return file, text, values, all_forms(values)


def log_of(run: Run, node: str) -> list[str]:
    return list(LogLine.objects.filter(taskrun__run=run, taskrun__node_id=node).values_list("text", flat=True))


def api_answers(client, run: Run) -> list[tuple[str, object]]:
    """Every API answer and page about the run, as a user or script would fetch them."""
    urls = [f"/api/runs/{run.pk}/", f"/api/runs/?workflow={run.workflow_id}", f"/runs/{run.pk}/",
            f"/api/security/secret-reads/?run={run.pk}", f"/api/tracing/traces/?run={run.pk}"]  # fmt: skip
    for task in run.tasks.all():
        urls.append(f"/api/taskruns/{task.pk}/")
        for attempt in range(1, task.attempts + 1):
            urls += [f"/api/taskruns/{task.pk}/logs/?attempt={attempt}&limit=5000",
                     f"/api/taskruns/{task.pk}/logs/tail/?attempt={attempt}&lines=5000"]  # fmt: skip
    answers = []
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        answers.append((url, response.content.decode()))
        if url.startswith("/api/tracing/traces/?"):
            for trace in response.json()["results"]:
                detail = client.get(f"/api/tracing/traces/{trace['trace_id']}/")
                answers.append((f"trace {trace['trace_id']}", detail.content.decode()))
    return answers


def test_the_search_finds_every_form_when_masking_is_off(leaky, monkeypatch):
    file, text, _values, forms = leaky
    # The run's mask made a no-op: everything the task printed is stored as it was printed.
    monkeypatch.setattr("security.secrets_extension.RunMask.__call__", lambda self, t: self.previous(t))
    monkeypatch.setattr("security.secrets_extension.RunMask.mask_lines", lambda self, lines: list(lines))
    monkeypatch.setattr("security.secrets_extension.RunMask.mask_mapping", lambda self, m, what="output": (dict(m), []))
    run = runner.create_run(make_workflow(text, base_dir=str(file.parent)), enqueue=False)
    runner.execute(run.pk)
    found = leaks(database_rows(), forms)
    assert {line.split(": ", 1)[1] for line in found} == set(forms)  # every form, so each is really printed


@pytest.mark.integration
def test_no_form_of_a_secret_is_stored_or_answered(leaky, consumer, client_as):
    file, text, values, forms = leaky
    workflow = make_workflow(text, base_dir=str(file.parent))
    client = client_as("operator")
    response = client.post(f"/api/workflows/{workflow.pk}/runs/", {}, content_type="application/json")
    assert response.status_code == 201, response.content
    run = wait_for_run(response.json()["id"], timeout=60)

    tasks = {t.node_id: t for t in TaskRun.objects.filter(run=run)}
    assert (run.status, tasks["leak"].status, tasks["crash"].status) == ("failed", "success", "failed")
    printed = log_of(run, "leak")
    for label in ("raw", "base64", "hex", "url", "json", "split", "on stderr", "inside base64 +1"):
        line = next(t for t in printed if t.startswith(f"{SINGLE} {label}: "))
        assert "***" in line, line  # printed, and masked
    assert any("output 'leak_one' contained a secret value; it is kept masked" in t for t in printed)
    assert tasks["leak"].outputs["leak_one"] == "***" and tasks["leak"].outputs["plain"] == "nothing secret here"
    assert log_of(run, "downstream") == ["got ***"]
    assert SecretRead.objects.filter(run=run).count() == 3
    answers = api_answers(client, run)  # reading the trace stores its attempt spans, made from their rows
    assert Span.objects.filter(trace__run=run).count() >= 4  # the spans were stored, and searched below

    assert leaks(database_rows(), forms) == []
    assert leaks(answers, forms) == []


@pytest.mark.integration
def test_run_workflow_wait_prints_no_form_of_a_secret(leaky):
    file, _text, _values, forms = leaky
    done = subprocess.run(
        [sys.executable, "manage.py", "run_workflow", str(file), "--wait"],
        cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, encoding="utf-8", timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # the crash task failed the run
    assert f"leak | {SINGLE} base64: ***" in done.stdout
    assert leaks([("stdout", done.stdout), ("stderr", done.stderr)], forms) == []
    assert leaks(database_rows(), forms) == []
