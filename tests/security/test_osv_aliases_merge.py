"""One finding per vulnerability: advisories that name each other (aliases) merge, rated from CVSS."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from security.advisories import StoredAdvisories, import_advisories
from security.scanners import osv
from security.scanners.manifests import Pin
from security.scanners.pipeline import dependency_finding

PYSEC = {
    "id": "PYSEC-2099-1", "aliases": ["CVE-2099-0001"], "modified": "2099-01-01T00:00:00Z",
    "details": "Remote code execution in demo-lib.",
    "affected": [{"package": {"name": "demo-lib", "ecosystem": "PyPI"},
                  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.5"}]}]}],
}  # fmt: skip
GHSA = {
    "id": "GHSA-aaaa-bbbb-cccc", "aliases": ["CVE-2099-0001"], "modified": "2099-01-02T00:00:00Z",
    "summary": "demo-lib runs code from its input",
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
    "affected": [{"package": {"name": "Demo_Lib", "ecosystem": "PyPI"},
                  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"fixed": "1.5"}]}]}],
}  # fmt: skip
OTHER = {
    "id": "PYSEC-2099-2", "modified": "2099-01-03T00:00:00Z", "details": "Denial of service.",
    "database_specific": {"severity": "MODERATE"},
    "affected": [{"package": {"name": "demo-lib", "ecosystem": "PyPI"}, "versions": ["1.2"]}],
}  # fmt: skip


def export_zip(tmp_path: Path) -> Path:
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for record in (PYSEC, GHSA, OTHER):
            zf.writestr(f"{record['id']}.json", json.dumps(record))
    return archive


def test_advisories_sharing_an_alias_become_one_vulnerability(tmp_path):
    index = osv.AdvisoryIndex.load(export_zip(tmp_path))
    pin = Pin("demo-lib", "1.2", "requirements.txt", 3)

    vulns = osv.merge_aliases(osv.match([pin], index))

    assert [v.ids for v in vulns] == [["GHSA-aaaa-bbbb-cccc", "PYSEC-2099-1"], ["PYSEC-2099-2"]]
    merged = vulns[0]
    assert merged.canonical_id == "CVE-2099-0001"
    assert merged.rating()[:2] == ("critical", 9.8)
    assert vulns[1].rating()[0] == "medium" and "MODERATE" in vulns[1].rating()[3]


def test_the_finding_names_every_alias_and_the_fixed_version(tmp_path):
    index = osv.AdvisoryIndex.load(export_zip(tmp_path))
    [vuln, _] = osv.merge_aliases(osv.match([Pin("demo-lib", "1.2", "requirements.txt", 3)], index))

    finding = dependency_finding(vuln)

    assert finding.rule_id == "CVE-2099-0001" and finding.severity == "critical"
    assert finding.aliases == ["CVE-2099-0001", "GHSA-aaaa-bbbb-cccc", "PYSEC-2099-1"]
    assert finding.fixed_versions == ["1.5"] and finding.line == 3
    assert finding.fingerprint_fields == {"kind": "dependency", "rule": "osv:CVE-2099-0001",
                                          "path": "requirements.txt", "package": "demo-lib"}  # fmt: skip


def test_the_imported_store_answers_like_the_files(db, tmp_path):
    result = import_advisories(export_zip(tmp_path))
    again = import_advisories(export_zip(tmp_path))
    pin = Pin("demo-lib", "1.2", "requirements.txt")

    stored = osv.merge_aliases(osv.match([pin], StoredAdvisories()))

    assert (result.created, again.created, again.unchanged) == (3, 0, 3)
    assert [v.canonical_id for v in stored] == ["CVE-2099-0001", "PYSEC-2099-2"]
