"""CVSS v3 base scores computed from the vector (FIRST's formulas), checked against published scores."""

from __future__ import annotations

import pytest
import yaml

from security.scanners import cvss
from security.scanners import severity as sev

from .conftest import OSV_PYPA

# Scores as FIRST's calculator gives them.
KNOWN = [
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
    ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
    ("CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", 7.2),
    ("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.5),
    ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
    ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
]


@pytest.mark.parametrize("vector, score", KNOWN)
def test_base_score_matches_the_published_score(vector, score):
    assert cvss.base_score(vector).base_score == score


def test_version_3_1_rounds_up_without_floating_point_error():
    assert cvss.roundup(4.000000000000001, "3.1") == 4.0
    assert cvss.roundup(4.02, "3.1") == 4.1
    assert cvss.roundup(4.000000000000001, "3.0") == 4.1


@pytest.mark.parametrize(
    "vector", ["CVSS:2.0/AV:N", "CVSS:3.1/AV:N/AC:L", "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"]
)
def test_a_bad_vector_is_refused_with_a_reason(vector):
    with pytest.raises(cvss.CvssError):
        cvss.base_score(vector)


def test_every_vector_in_the_advisory_database_scores_within_range():
    vectors = []
    for path in OSV_PYPA.rglob("*.yaml"):
        text = path.read_text()
        if "CVSS_V3" in text:
            vectors += [s["score"] for s in yaml.safe_load(text).get("severity", []) if s["type"] == "CVSS_V3"]
    scores = [cvss.base_score(v).base_score for v in vectors]
    assert len(scores) > 150
    assert all(0.0 <= s <= 10.0 for s in scores)
    assert {sev.from_score(s) for s in scores} >= {sev.CRITICAL, sev.HIGH, sev.MEDIUM}
