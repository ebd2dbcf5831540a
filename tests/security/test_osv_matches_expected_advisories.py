"""The OSV matcher against the real PyPA advisory database: exactly the expected ids for each pin,
from the YAML database and from the same records in OSV's JSON export layout (a zip)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import yaml

from security.scanners import manifests, osv

from .conftest import OSV_EVAL, OSV_PYPA


@pytest.fixture(scope="module")
def index() -> osv.AdvisoryIndex:
    return osv.AdvisoryIndex.load(OSV_PYPA)


def matched_ids(pins, source) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {f"{p.key}=={p.version}": [] for p in pins}
    for m in osv.match(pins, source):
        found[f"{m.pin.key}=={m.pin.version}"].append(m.advisory.id)
    return {key: sorted(ids) for key, ids in found.items()}


@pytest.mark.parametrize("name", sorted(p.stem for p in OSV_EVAL.glob("*.txt")))
def test_each_pin_matches_exactly_the_expected_advisories(index, name):
    pins, _warnings = manifests.parse_requirements(OSV_EVAL / f"{name}.txt", f"{name}.txt")
    expected = json.loads((OSV_EVAL / f"{name}.expected.json").read_text())

    assert matched_ids(pins, index) == {key: sorted(ids) for key, ids in expected.items()}


def test_the_json_export_layout_gives_the_same_matches(index, tmp_path: Path):
    archive = tmp_path / "PyPI-all.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in OSV_PYPA.rglob("*.yaml"):
            record = yaml.safe_load(path.read_text())
            zf.writestr(f"{record['id']}.json", json.dumps(record, default=str))
    pins, _ = manifests.parse_requirements(OSV_EVAL / "requirements-web.txt", "requirements-web.txt")

    from_zip = osv.AdvisoryIndex.load(archive)

    assert len(from_zip) == len(index)
    assert matched_ids(pins, from_zip) == matched_ids(pins, index)


def test_withdrawn_advisories_are_left_out(index):
    withdrawn = [p for p in OSV_PYPA.rglob("*.yaml") if "\nwithdrawn:" in p.read_text()]
    ids = {yaml.safe_load(p.read_text())["id"] for p in withdrawn}

    assert len(withdrawn) == 10
    assert not ids & {a.id for advisories in index.by_package.values() for a in advisories}


def test_last_affected_includes_that_version_and_nothing_after():
    events = [{"introduced": "0"}, {"last_affected": "1.11.0"}]

    assert osv.in_range("ECOSYSTEM", events, "1.11.0")
    assert osv.in_range("ECOSYSTEM", events, "1.4")
    assert not osv.in_range("ECOSYSTEM", events, "1.11.1")


def test_introduced_and_fixed_bound_the_range_and_ranges_can_reopen():
    events = [{"introduced": "1.0"}, {"fixed": "1.2.3"}, {"introduced": "2.0"}, {"fixed": "2.0.5"}]

    assert [osv.in_range("ECOSYSTEM", events, v) for v in ("0.9", "1.0", "1.2.2", "1.2.3", "1.9", "2.0.4", "2.0.5")] == [
        False, True, True, False, False, True, False,
    ]  # fmt: skip


def test_semver_ranges_order_prereleases_before_their_release():
    events = [{"introduced": "1.0.0-rc.1"}, {"fixed": "1.4.0"}]

    assert osv.in_range("SEMVER", events, "1.0.0-rc.2")
    assert osv.in_range("SEMVER", events, "1.3.9")
    assert not osv.in_range("SEMVER", events, "1.0.0-beta")
    assert not osv.in_range("SEMVER", events, "1.4.0")


def test_listed_versions_match_by_pep440_equality():
    affected = {"package": {"name": "x", "ecosystem": "PyPI"}, "versions": ["3.2"]}

    assert osv.affects(affected, "3.2.0")
    assert not osv.affects(affected, "3.2.1")
