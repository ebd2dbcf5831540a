"""How expression values behave, GitHub-Actions style: truthiness and text, comparison with
number and boolean coercion, lookups that read mapping keys and list indexes only, and the
built-in functions. The parser and evaluator are in .conditions."""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

NUMERIC_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
ORDERING = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


class ConditionError(ValueError):
    """A condition or template that cannot be parsed or evaluated."""

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message if column is None else f"{message} at column {column}")
        self.message, self.column = message, column


def lookup(value: Any, key: Any) -> Any:
    # The security boundary: mapping keys and list indexes only, never getattr().
    if isinstance(value, Mapping):
        return value.get(key)
    if isinstance(value, (list, tuple)) and type(key) is int and 0 <= key < len(value):
        return value[key]
    return None


def to_number(value: Any) -> int | float | None:
    if isinstance(value, (bool, int, float)):
        return int(value) if isinstance(value, bool) else value
    if isinstance(value, str) and NUMERIC_TEXT.fullmatch(text := value.strip()):
        try:
            return int(text)
        except ValueError:  # a decimal point or exponent, or too many digits for int()
            return float(text)
    return None


def coerce(a: Any, b: Any) -> tuple[Any, Any] | None:
    """Bring a and b to one comparable type (both str or both numbers), or None."""
    if isinstance(a, str) and isinstance(b, str):
        return a, b
    # Task outputs are strings, so `outputs.ok == true` should match "true".
    words = {"true": True, "false": False}
    if isinstance(a, bool) and isinstance(b, str):
        b = words.get(b.strip().lower(), b)
    elif isinstance(b, bool) and isinstance(a, str):
        a = words.get(a.strip().lower(), a)
    x, y = to_number(a), to_number(b)
    return None if x is None or y is None else (x, y)


def equals(a: Any, b: Any) -> bool:
    # Unlike GitHub, string equality is case-sensitive: outputs and matrix values are
    # data (file formats, ids), where 'CSV' and 'csv' may well mean different things.
    if a is None or b is None:
        return a is None and b is None
    pair = coerce(a, b)
    return pair[0] == pair[1] if pair is not None else bool(a == b)


def contains(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, str):
        return isinstance(needle, str) and needle in haystack
    if isinstance(haystack, Mapping):
        return isinstance(needle, (str, int, float)) and needle in haystack
    if isinstance(haystack, (list, tuple)):
        return any(equals(item, needle) for item in haystack)
    return False


def to_json(value: Any) -> str:
    # ValueError: YAML anchors can build self-referencing data.
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    except (ValueError, RecursionError) as exc:
        raise ConditionError(f"cannot convert to JSON: {exc}") from exc


def from_json(value: Any) -> Any:
    try:
        return json.loads(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ConditionError(f"fromJSON() needs a JSON string: {exc}") from exc


def length(value: Any) -> int:
    if value is None or isinstance(value, (str, list, tuple, Mapping)):
        return len(value or "")
    kind = type(value).__name__
    raise ConditionError(f"length() needs a string, list or object, not {kind}")


def fold(value: Any) -> str:
    return to_text(value).casefold()


# Lower-cased name -> (arity, implementation); names match case-insensitively, as in GitHub.
FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "contains": (2, contains),
    "startswith": (2, lambda text, prefix: fold(text).startswith(fold(prefix))),
    "endswith": (2, lambda text, suffix: fold(text).endswith(fold(suffix))),
    "length": (1, length),
    "fromjson": (1, from_json),
    "tojson": (1, to_json),
}


def truthy(value: Any) -> bool:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value != 0 and not math.isnan(value)  # NaN is falsy, as in GitHub
    return value is not None and value is not False and value != ""


def to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, (Mapping, list, tuple)):
        return to_json(value)
    return str(value)
