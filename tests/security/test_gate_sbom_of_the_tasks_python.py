"""A gate's SBOM describes the environment the tasks run in: the Python their commands call (a
project's own virtualenv here, with one package in it), not the server's interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from security.gates import task_python
from security.models import Scan
from tests.conftest import make_workflow
from workflows import runner
from workflows.engine.spec import parse_workflow

pytestmark = pytest.mark.integration


def project_venv(folder: Path) -> Path:
    """A virtualenv without pip, holding one installed distribution (its metadata is what counts)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder / ".venv")], check=True)
    site = next((folder / ".venv" / "lib").glob("python3*/site-packages"))
    meta = site / "tasklib-1.2.3.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: tasklib\nVersion: 1.2.3\n")
    return folder / ".venv" / "bin" / "python"


def test_the_python_a_task_calls_is_found(tmp_path):
    python = project_venv(tmp_path)
    spec = parse_workflow("name: p\ntasks:\n  a: {run: 'echo hi'}\n  b: {run: '.venv/bin/python job.py'}\n")
    assert task_python(spec, tmp_path) == str(python)
    spec = parse_workflow("name: p\ntasks:\n  a: {run: ['python3', '-c', 'pass']}\n")
    assert task_python(spec, tmp_path).endswith("python3")
    assert task_python(parse_workflow("name: p\ntasks:\n  a: {run: 'true'}\n"), tmp_path) is None


def test_the_gate_sbom_lists_the_tasks_environment(transactional_db, tmp_path):
    python = project_venv(tmp_path)
    (tmp_path / "job.py").write_text("print('ok')\n")
    workflow = make_workflow("name: venv_job\ngates: {code: {}}\ntasks:\n  a: {run: '.venv/bin/python job.py'}\n",
                             base_dir=str(tmp_path))  # fmt: skip
    run = runner.create_run(workflow, enqueue=False)
    runner.execute(run.pk)
    scan = Scan.objects.get(run=run)
    assert scan.sbom.source == f"python:{python}"
    components = json.loads(scan.sbom.document)["components"]
    assert [(c["name"], c["version"], c["purl"]) for c in components] == [
        ("tasklib", "1.2.3", "pkg:pypi/tasklib@1.2.3")
    ]
