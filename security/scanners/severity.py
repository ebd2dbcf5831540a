"""One severity scale for every tool: critical, high, medium, low, info."""

from __future__ import annotations

CRITICAL, HIGH, MEDIUM, LOW, INFO = "critical", "high", "medium", "low", "info"
SEVERITIES = (CRITICAL, HIGH, MEDIUM, LOW, INFO)
RANK = {INFO: 0, LOW: 1, MEDIUM: 2, HIGH: 3, CRITICAL: 4}

_WORDS = {
    "critical": CRITICAL,
    "high": HIGH,
    "error": HIGH,
    "moderate": MEDIUM,
    "medium": MEDIUM,
    "warning": MEDIUM,
    "low": LOW,
    "note": LOW,
    "info": INFO,
    "informational": INFO,
    "none": INFO,
    "undefined": INFO,
}


def rank(severity: str) -> int:
    return RANK[severity]


def at_least(severity: str, threshold: str) -> bool:
    return RANK[severity] >= RANK[threshold]


def from_word(word: str | None, default: str = MEDIUM) -> str:
    """A tool's own word (Bandit HIGH, Semgrep ERROR, GHSA MODERATE, SARIF note) on our scale."""
    if not word:
        return default
    return _WORDS.get(str(word).strip().lower(), default)


def from_score(score: float) -> str:
    """CVSS v3 qualitative rating (spec section 5): 9.0+ critical, 7.0+ high, 4.0+ medium, 0.1+ low."""
    if score >= 9.0:
        return CRITICAL
    if score >= 7.0:
        return HIGH
    if score >= 4.0:
        return MEDIUM
    if score > 0.0:
        return LOW
    return INFO


def validate(severity: str) -> str:
    if severity not in RANK:
        raise ValueError(f"unknown severity '{severity}' (expected one of {', '.join(SEVERITIES)})")
    return severity
