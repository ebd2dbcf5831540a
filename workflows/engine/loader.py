"""Read a workflow file (YAML or JSON) into plain dicts and lists that remember their line numbers.

Validation in `spec.py` needs the line of every key to point users at the right place.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml


class LoadError(ValueError):
    """The file is not well-formed YAML/JSON; `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.message}"


class LineDict(dict):
    """A mapping from the file; `line` is where it starts, `key_lines[key]` where each key is."""

    line: int = 0
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line) if hasattr(self, "key_lines") else self.line


class LineList(list):
    """A sequence from the file; `item_lines[i]` is where item i starts."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        lines = getattr(self, "item_lines", [])
        return lines[index] if index < len(lines) else self.line


# libyaml's parser when PyYAML was built with it: several times faster on big files.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """SafeLoader that records lines, reports duplicate keys and uses YAML 1.2 booleans."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.duplicates: list[tuple[int, Any]] = []

    def construct_line_mapping(self, node: yaml.MappingNode) -> LineDict:
        self.flatten_mapping(node)
        result = LineDict()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise LoadError("a mapping key must be a plain value", key_node.start_mark.line + 1) from None
            if key in result:
                self.duplicates.append((key_node.start_mark.line + 1, key))
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result

    def construct_line_sequence(self, node: yaml.SequenceNode) -> LineList:
        result = LineList(self.construct_object(child, deep=True) for child in node.value)
        result.line = node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        return result


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_line_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _Loader.construct_line_sequence)
# YAML 1.1 reads `no`, `on`, `off`, `yes` as booleans (the "Norway problem": a matrix of
# country codes [se, no] loses Norway); follow YAML 1.2 and only take true/false.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _load_yaml(text: str) -> Any:
    loader = _Loader(text)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise LoadError(
            f"invalid YAML: {problem}",
            mark.line + 1 if mark else None,
            mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        raise LoadError(f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    if loader.duplicates:
        line, key = loader.duplicates[0]
        raise LoadError(f"duplicate key '{key}'", line)
    return data


def _reject_duplicate_json_keys(pairs: list[tuple[str, Any]]) -> dict:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise LoadError(f"duplicate key '{key}'")
        result[key] = value
    return result


def _load_json(text: str) -> Any:
    try:
        data = json.loads(text, object_pairs_hook=_reject_duplicate_json_keys)
    except json.JSONDecodeError as exc:
        raise LoadError(f"invalid JSON: {exc.msg}", exc.lineno, exc.colno) from None
    except LoadError as exc:
        # json does not say where the duplicate is; find the key's second occurrence.
        raise LoadError(exc.message, _json_duplicate_line(text, exc.message)) from None
    try:
        # JSON is (nearly) YAML, so the YAML composer gives us the line numbers. YAML refuses
        # tabs where JSON allows them; outside strings (the only place JSON has raw tabs) a
        # space means the same.
        with_lines = _load_yaml(text.replace("\t", " "))
    except LoadError:
        return data
    return with_lines if with_lines == data else data


def _json_duplicate_line(text: str, message: str) -> int | None:
    key = message.split("'", 2)[1] if "'" in message else ""
    pattern = re.compile(r'"' + re.escape(key) + r'"\s*:')
    hits = [text.count("\n", 0, m.start()) + 1 for m in pattern.finditer(text)]
    return hits[1] if len(hits) > 1 else None


def detect_format(text: str, filename: str | None = None) -> str:
    if filename:
        lower = filename.lower()
        if lower.endswith(".json"):
            return "json"
        if lower.endswith((".yaml", ".yml")):
            return "yaml"
    return "json" if text.lstrip().startswith(("{", "[")) else "yaml"


MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64


def _check_depth(text: str) -> None:
    """Refuse absurd nesting before the parsers recurse into it (cheap, quote-aware scan)."""
    depth, quote, line = 0, "", 1
    for char in text:
        if char == "\n":
            line += 1
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise LoadError(f"nested more than {MAX_DEPTH} levels deep", line)
        elif char in "]}":
            depth -= 1


def load(text: str, filename: str | None = None) -> Any:
    """Parse workflow text; raises LoadError naming the line for malformed input."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise LoadError(f"the file is larger than {MAX_BYTES // 1024} KiB")
    _check_depth(text)
    if "\t" in text and detect_format(text, filename) == "yaml":
        for number, line in enumerate(text.splitlines(), 1):
            indent = line[: len(line) - len(line.lstrip())]
            if "\t" in indent:
                raise LoadError("tabs are not allowed for indentation in YAML", number)
    try:
        if detect_format(text, filename) == "json":
            return _load_json(text)
        return _load_yaml(text)
    except RecursionError:  # deep block-style nesting: the scan above only sees brackets
        raise LoadError("nested too deeply") from None
