"""Compare two traces span by span: the same task (and attempt) in run A and in run B.

Spans are matched by name, attempt and the order they started in, so a matrix leg or a
child script's span meets its counterpart in the other run; unmatched spans show on one side.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

ROOT = "(the whole run)"


def _keys(spans: Iterable[Mapping[str, Any]]) -> dict[tuple[str, Any, int], Mapping[str, Any]]:
    seen: dict[tuple[str, Any], int] = {}
    keyed = {}
    for span in sorted(spans, key=lambda s: s["start_us"]):
        attempt = (span.get("attributes") or {}).get("runner.attempt")
        # The roots are named after their run ("run etl #7"): they match each other.
        name = ROOT if not span.get("parent_id") and span.get("source", "runner") == "runner" else span["name"]
        base = (name, attempt)
        seen[base] = seen.get(base, 0) + 1
        keyed[(*base, seen[base])] = span
    return keyed


def compare_spans(a: Iterable[Mapping[str, Any]], b: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per matched pair (or lone span): durations in microseconds and B's change against A."""
    left, right = _keys(a), _keys(b)
    order = list(left) + [key for key in right if key not in left]
    rows = []
    for key in order:
        one, two = left.get(key), right.get(key)
        da = one.get("duration_us") if one else None
        db = two.get("duration_us") if two else None
        delta = db - da if da is not None and db is not None else None
        rows.append(
            {
                "name": key[0],
                "attempt": key[1],
                "a": one.get("span_id") if one else None,
                "b": two.get("span_id") if two else None,
                "a_us": da,
                "b_us": db,
                "delta_us": delta,
                "ratio": (db / da) if delta is not None and da else None,
                "a_status": one.get("status") if one else None,
                "b_status": two.get("status") if two else None,
            }
        )
    return rows
