"""CVSS v3.0/v3.1 base scores computed from the vector string (FIRST's specification, section 7)."""

from __future__ import annotations

import math
from dataclasses import dataclass

WEIGHTS = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
# Privileges Required weighs more when the scope changes.
PR = {"U": {"N": 0.85, "L": 0.62, "H": 0.27}, "C": {"N": 0.85, "L": 0.68, "H": 0.5}}
BASE_METRICS = ("AV", "AC", "PR", "UI", "S", "C", "I", "A")


class CvssError(ValueError):
    pass


@dataclass(frozen=True)
class CvssScore:
    version: str
    vector: str
    base_score: float
    impact: float
    exploitability: float


def roundup(value: float, version: str = "3.1") -> float:
    """The smallest number with one decimal >= value; 3.1 defines it on integers to dodge float error."""
    if version == "3.0":
        return math.ceil(value * 10) / 10
    as_int = round(value * 100000)
    if as_int % 10000 == 0:
        return as_int / 100000.0
    return (math.floor(as_int / 10000) + 1) / 10.0


def parse_vector(vector: str) -> tuple[str, dict[str, str]]:
    parts = vector.strip().split("/")
    head = parts[0]
    if not head.startswith("CVSS:") or head[5:] not in ("3.0", "3.1"):
        raise CvssError(f"not a CVSS v3 vector: {vector!r}")
    metrics: dict[str, str] = {}
    for part in parts[1:]:
        key, sep, value = part.partition(":")
        if not sep or key in metrics:
            raise CvssError(f"bad metric {part!r} in {vector!r}")
        metrics[key] = value
    missing = [m for m in BASE_METRICS if m not in metrics]
    if missing:
        raise CvssError(f"{vector!r} lacks base metric(s) {', '.join(missing)}")
    return head[5:], metrics


def base_score(vector: str) -> CvssScore:
    version, m = parse_vector(vector)
    try:
        scope = m["S"]
        if scope not in ("U", "C"):
            raise KeyError("S")
        iss = 1 - (1 - WEIGHTS["C"][m["C"]]) * (1 - WEIGHTS["I"][m["I"]]) * (1 - WEIGHTS["A"][m["A"]])
        if scope == "U":
            impact = 6.42 * iss
        else:
            impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15
        exploitability = 8.22 * WEIGHTS["AV"][m["AV"]] * WEIGHTS["AC"][m["AC"]] * PR[scope][m["PR"]]
        exploitability *= WEIGHTS["UI"][m["UI"]]
    except KeyError as exc:
        raise CvssError(f"bad value for {exc.args[0]} in {vector!r}") from None
    if impact <= 0:
        score = 0.0
    elif scope == "U":
        score = roundup(min(impact + exploitability, 10), version)
    else:
        score = roundup(min(1.08 * (impact + exploitability), 10), version)
    return CvssScore(version, vector, score, impact, exploitability)
