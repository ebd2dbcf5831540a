"""The command line: `scan` (exit status for CI, SARIF out), `sbom`, `osv_import`, `import_sarif`;
bad input exits non-zero with one clear line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from security.models import Advisory, Finding
from security.scanners import sarif
from tests.conftest import subprocess_env

from .conftest import OSV_PYPA

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


def manage(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=cwd, env=subprocess_env(),
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip


def test_osv_import_then_scan_fails_ci_on_a_vulnerable_pin_and_writes_sarif(project: Path, tmp_path: Path):
    imported = manage("osv_import", str(OSV_PYPA / "django"))
    out = tmp_path / "scan.sarif"

    below = manage("scan", str(project), "--fail-on", "high", "--tools", "osv")
    done = manage("scan", str(project), "--fail-on", "medium", "--sarif", str(out), "--tools", "osv,bandit")

    assert imported.returncode == 0 and "new" in imported.stdout
    assert Advisory.objects.count() > 100
    assert below.returncode == 0, below.stderr  # Django's advisories here carry no score: rated medium
    assert done.returncode == 1, done.stderr
    assert "at or above medium" in done.stderr
    assert "PYSEC" in done.stdout or "CVE-" in done.stdout
    document = json.loads(out.read_text())
    sarif.validate(document)
    assert {run["tool"]["driver"]["name"] for run in document["runs"]} == {"bandit", "osv"}
    assert Finding.objects.filter(kind="dependency", package="django").exists()


def test_a_scan_with_nothing_at_the_threshold_exits_zero(tmp_path: Path):
    (tmp_path / "ok.py").write_text("def add(a, b):\n    return a + b\n")

    done = manage("scan", str(tmp_path), "--fail-on", "low", "--tools", "bandit,detect-secrets")

    assert done.returncode == 0, done.stderr
    assert "no findings" in done.stdout


def test_triaged_findings_no_longer_fail_the_build(project: Path):
    manage("scan", str(project), "--tools", "bandit")
    Finding.objects.filter(severity="high").update(state=Finding.FALSE_POSITIVE)

    done = manage("scan", str(project), "--tools", "bandit", "--fail-on", "high")

    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("args, message", [
    (("scan", "/no/such/folder"), "not a folder"),
    (("scan", ".", "--tools", "bandit,nmap"), "unknown scanner 'nmap'"),
    (("scan", ".", "--requirements", "nope.txt"), "nope.txt: no such requirements file"),
    (("sbom", "-o", "x.json"), "give a requirements file or --env PYTHON"),
    (("osv_import", "/no/such.zip"), "no such file or folder"),
])  # fmt: skip
def test_bad_input_exits_non_zero_with_one_clear_line(args, message):
    done = manage(*args)

    assert done.returncode != 0
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_sbom_of_a_requirements_file_and_of_an_environment(project: Path, tmp_path: Path):
    from_file = manage("sbom", str(project / "requirements.txt"), "-o", str(tmp_path / "req.json"))
    from_env = manage("sbom", "--env", sys.executable, "-o", str(tmp_path / "env.json"))

    assert from_file.returncode == 0 and from_env.returncode == 0, from_file.stderr + from_env.stderr
    req = json.loads((tmp_path / "req.json").read_text())
    env = json.loads((tmp_path / "env.json").read_text())
    assert [c["purl"] for c in req["components"]] == [
        "pkg:pypi/django@3.2.0", "pkg:pypi/jinja2@2.10", "pkg:pypi/requests@2.32.3",
    ]  # fmt: skip
    assert "pkg:pypi/django@" in json.dumps(env) and env["specVersion"] == "1.7"


def test_import_sarif_turns_results_into_findings(project: Path, tmp_path: Path):
    from .test_sarif_export_and_import import FOREIGN

    (project / "web").mkdir()
    (project / "web" / "app.js").write_text("function run(code) {\n  eval(code);\n}\n")
    log = tmp_path / "eslint.sarif"
    log.write_text(json.dumps(FOREIGN))

    done = manage("import_sarif", str(log), "--root", str(project))

    assert done.returncode == 0, done.stderr
    assert Finding.objects.get(tool="eslint").path == "web/app.js"
