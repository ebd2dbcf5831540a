"""Pins from requirements files, pyproject.toml, poetry.lock and an interpreter; CycloneDX SBOMs of them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from security.scanners import manifests, sbom


def test_requirements_follow_includes_and_skip_options_hashes_and_comments(tmp_path: Path):
    (tmp_path / "base.txt").write_text("urllib3==1.24.1 \\\n    --hash=sha256:abc\n")
    (tmp_path / "requirements.txt").write_text(
        "-r base.txt\n--index-url https://example.invalid/simple\n# a comment\n"
        "Django==3.2.0  # pinned\nrequests[socks]==2.19.1 ; python_version >= '3'\nflask>=2\n"
    )

    pins, warnings = manifests.parse_requirements(tmp_path / "requirements.txt", "requirements.txt")

    assert [(p.key, p.version, p.line) for p in pins] == [
        ("urllib3", "1.24.1", 1), ("django", "3.2.0", 4), ("requests", "2.19.1", 5), ("flask", None, 6),
    ]  # fmt: skip
    assert warnings == ["requirements.txt: line 6: flask is not pinned (==); not checked"]


def test_pyproject_and_poetry_lock_give_their_pins(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["jinja2==2.10", "rich>=13"]\n'
        '[tool.poetry.dependencies]\npython = "^3.11"\npyyaml = "5.3"\n'
    )
    (tmp_path / "poetry.lock").write_text('[[package]]\nname = "pillow"\nversion = "8.0.0"\n')

    project, _ = manifests.read_manifest(tmp_path / "pyproject.toml")
    lock, _ = manifests.read_manifest(tmp_path / "poetry.lock")

    assert [(p.key, p.version) for p in project] == [("jinja2", "2.10"), ("rich", None), ("pyyaml", "5.3")]
    assert [(p.key, p.version, p.line) for p in lock] == [("pillow", "8.0.0", 2)]


def test_a_broken_manifest_is_a_clear_error(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text("[project\n")

    with pytest.raises(manifests.ManifestError, match="not valid TOML"):
        manifests.read_manifest(tmp_path / "pyproject.toml")
    with pytest.raises(manifests.ManifestError, match="no such file"):
        manifests.read_manifest(tmp_path / "missing.txt")


def test_an_interpreters_environment_lists_what_is_installed():
    pins, python = manifests.environment_pins(sys.executable)

    names = {p.key for p in pins}
    assert {"django", "bandit", "detect-secrets"} <= names
    assert python == sys.version.split()[0]


def test_the_sbom_is_the_newest_cyclonedx_with_purls_and_validates(tmp_path: Path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("Django==3.2.0\nSQLAlchemy==1.2.0\nflask>=2\n")
    pins, _ = manifests.read_manifest(requirements)

    document = json.loads(sbom.build(pins, subject="demo", source="requirements.txt"))

    assert document["bomFormat"] == "CycloneDX" and document["specVersion"] == sbom.SPEC_VERSION == "1.7"
    assert [(c["name"], c.get("version"), c["purl"]) for c in document["components"]] == [
        ("django", "3.2.0", "pkg:pypi/django@3.2.0"), ("flask", None, "pkg:pypi/flask"),
        ("sqlalchemy", "1.2.0", "pkg:pypi/sqlalchemy@1.2.0"),
    ]  # fmt: skip
    assert document["metadata"]["component"]["name"] == "demo"


def test_an_sbom_that_breaks_the_schema_is_refused():
    pins = [manifests.Pin("django", "3.2.0", "r.txt")]
    text = sbom.build(pins, subject="demo", source="r.txt")

    with pytest.raises(sbom.SbomInvalid, match="does not validate"):
        sbom.validate(text.replace('"library"', '"spaceship"'))
