"""Fixtures for the security tests: planted vulnerable code and secrets, and real OSV advisories."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

SHARED_DATA = Path(settings.BASE_DIR).parent / "shared" / "data"
OSV_PYPA = SHARED_DATA / "osv-pypa" / "vulns"
OSV_EVAL = SHARED_DATA / "osv-eval"

# Planted secrets are assembled here, not written out whole, so this repository holds none.
AWS_KEY = "AKIA" + "J7QX" + "M2ZB" + "P4TR" + "K9WD"
GITHUB_TOKEN = "ghp_" + "x7Kq2Lm9" + "Pz4Rt8Vw" + "1Ny6Bc3D" + "fGh5Jk0S" + "aQwE"
PASSWORD_LINE = 'db_password = "' + "Tr0ub4dor" + "-and-3" + '"'

BANDIT_SAMPLE = '''\
"""A deploy helper with the kind of mistakes Bandit finds."""
import hashlib
import pickle
import subprocess


def deploy(target):
    subprocess.call("rsync -a build/ " + target, shell=True)


def load_state(blob):
    return pickle.loads(blob)


def digest(data):
    return hashlib.md5(data).hexdigest()
'''

SEMGREP_SAMPLE = '''\
"""Mistakes Bandit does not look for; the project's Semgrep rules do."""
import asyncio
import zipfile

import jwt
import yaml


async def run(command):
    return await asyncio.create_subprocess_shell(command)


def read_config(text):
    return yaml.unsafe_load(text)


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def unpack(archive, dest):
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(dest)
'''


def secrets_sample() -> str:
    return "\n".join([
        '"""Settings with credentials written into them."""',
        f'AWS_ACCESS_KEY_ID = "{AWS_KEY}"',
        f'GITHUB_TOKEN = "{GITHUB_TOKEN}"',
        PASSWORD_LINE,
        f'EXAMPLE_KEY = "{AWS_KEY[:-4]}EXMP"  # pragma: allowlist secret',
        "",
    ])  # fmt: skip


def plant(root: Path) -> Path:
    """A small project: Bandit-visible and Semgrep-only mistakes, planted secrets, vulnerable pins."""
    (root / "app").mkdir(parents=True, exist_ok=True)
    (root / "app" / "deploy.py").write_text(BANDIT_SAMPLE)
    (root / "app" / "loaders.py").write_text(SEMGREP_SAMPLE)
    (root / "app" / "settings.py").write_text(secrets_sample())
    (root / "app" / "clean.py").write_text("def add(a, b):\n    return a + b\n")
    (root / "requirements.txt").write_text("Django==3.2.0\njinja2==2.10\nrequests==2.32.3\n")
    return root


@pytest.fixture
def project(tmp_path) -> Path:
    return plant(tmp_path / "project")


@pytest.fixture
def advisories(db):
    """The real PyPA advisories of the packages the tests pin, in the local store."""
    from security.advisories import import_advisories

    for package in ("django", "jinja2", "requests", "flask", "pyyaml"):
        import_advisories(OSV_PYPA / package)


def make_findings(count: int, *, root: str = "/srv/demo", tools=("bandit", "semgrep", "osv")):
    """Many findings quickly (bulk insert), spread over tools, severities, states and files."""
    from django.utils import timezone

    from security.ingest import refresh_statistics
    from security.models import Finding, Target
    from security.scanners import severity as sev

    target, _ = Target.objects.get_or_create(root=root, defaults={"name": "demo"})
    now = timezone.now()
    states = [Finding.OPEN, Finding.OPEN, Finding.CONFIRMED, Finding.FALSE_POSITIVE, Finding.FIXED]
    rows = []
    for i in range(count):
        severity = sev.SEVERITIES[i % 5]
        rows.append(Finding(
            target=target, fingerprint=f"{i:040x}", tool=tools[i % len(tools)], kind="code", rule_id=f"R{i % 37}",
            title=f"R{i % 37} issue {i}", severity=severity, severity_rank=sev.rank(severity), path=f"pkg/mod{i % 101}.py",
            line=i % 400 + 1, state=states[i % 5], first_seen_at=now - timezone.timedelta(minutes=i),
            last_seen_at=now, occurrence_count=1,
        ))  # fmt: skip
    Finding.objects.bulk_create(rows, batch_size=2000)
    refresh_statistics()  # as a scan that stores this many findings does
    return target
