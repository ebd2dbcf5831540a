"""What every part of a workflow file is checked with: the error record, and a collector that
checks one field at a time and keeps going, so that one pass reports every error."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from . import conditions, templates
from .loader import LineDict, LineList


@dataclass(frozen=True)
class SpecError:
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.field}: {self.message}" if self.field else f"{where}{self.message}"


class Checker:
    def __init__(self) -> None:
        self.errors: list[SpecError] = []

    def error(self, line: int | None, path: str, message: str) -> None:
        self.errors.append(SpecError(line, path, message))

    def mapping(self, value: Any, line: int, path: str) -> LineDict | None:
        if isinstance(value, dict):
            if not isinstance(value, LineDict):
                wrapped = LineDict(value)
                wrapped.line, wrapped.key_lines = line, {}
                return wrapped
            return value
        self.error(line, path, f"must be a mapping, not {type_name(value)}")
        return None

    def unknown_fields(self, data: LineDict, allowed: set[str], path: str) -> None:
        for key in data:
            if key not in allowed:
                hint = difflib.get_close_matches(str(key), sorted(allowed), n=1)
                suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
                self.error(data.line_of(key), join_path(path, key), f"unknown field{suggestion}")

    def _typed(self, data: LineDict, key: str, path: str, default: Any, kind: type, expected: str) -> Any:
        """data[key] if it is a `kind`; the default if it is missing or null; else an error that
        says what was expected, and the default."""
        if key not in data or data[key] is None:
            return default
        value = data[key]
        if isinstance(value, kind):
            return value
        self.error(data.line_of(key), join_path(path, key), f"must be {expected}, not {type_name(value)}")
        return default

    def string(self, data: LineDict, key: str, path: str, default: Any = None) -> Any:
        return self._typed(data, key, path, default, str, "a string")

    def number(
        self,
        data: LineDict,
        key: str,
        path: str,
        default: Any = None,
        *,
        integer: bool = False,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> Any:
        if key not in data or data[key] is None:
            return default
        value = data[key]
        kind = "an integer" if integer else "a number"
        ok = isinstance(value, int) if integer else isinstance(value, (int, float))
        if not ok or isinstance(value, bool):
            self.error(data.line_of(key), join_path(path, key), f"must be {kind}, not {type_name(value)}")
            return default
        if minimum is not None and value < minimum:
            self.error(data.line_of(key), join_path(path, key), f"must be at least {minimum:g}")
            return default
        if maximum is not None and value > maximum:
            self.error(data.line_of(key), join_path(path, key), f"must be at most {maximum:g}")
            return default
        return value

    def boolean(self, data: LineDict, key: str, path: str, default: bool = False) -> bool:
        return self._typed(data, key, path, default, bool, "true or false")

    def string_map(self, data: LineDict, key: str, path: str) -> dict[str, str]:
        """A mapping of names to scalar values (env, tags); numbers and booleans become text."""
        if key not in data or data[key] is None:
            return {}
        value = self.mapping(data[key], data.line_of(key), join_path(path, key))
        if value is None:
            return {}
        result = {}
        for name, item in value.items():
            where = join_path(join_path(path, key), name)
            if not isinstance(name, str):
                self.error(value.line_of(name), where, "names must be strings")
            elif isinstance(item, (dict, list)):
                self.error(value.line_of(name), where, f"must be a plain value, not {type_name(item)}")
            else:
                result[name] = conditions.to_text(item)
        return result

    def string_list(self, data: LineDict, key: str, path: str) -> list[str]:
        value = data.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list):
            self.error(data.line_of(key), join_path(path, key), f"must be a list of strings, not {type_name(value)}")
            return []
        result = []
        for index, item in enumerate(value):
            if isinstance(item, str):
                result.append(item)
            else:
                line = value.line_of(index) if isinstance(value, LineList) else data.line_of(key)
                self.error(line, f"{join_path(path, key)}[{index}]", f"must be a string, not {type_name(item)}")
        return result

    def expression(self, text: str, line: int, path: str) -> None:
        try:
            conditions.parse(text)
        except conditions.ConditionError as exc:
            self.error(line, path, f"bad condition: {exc}")

    def templates(self, text: str, line: int, path: str) -> None:
        for problem in templates.check_templates(text):
            self.error(line, path, f"bad expression: {problem}")


def join_path(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
