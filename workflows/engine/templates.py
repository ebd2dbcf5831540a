"""`${{ }}` templates in a task's `run` and `env`: finding them (a `}}` inside a quoted string does
not close one), checking their expressions' syntax, and rendering them with the safe evaluator."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .conditions import ConditionError, evaluate, parse, to_text


def _scan(text: str) -> tuple[list[tuple[int, int, str]], int | None]:
    """Templates in `text` and the index of an unterminated '${{', if any."""
    found: list[tuple[int, int, str]] = []
    start = text.find("${{")
    while start != -1:
        quote, i, end = "", start + 3, -1
        while i < len(text) and end == -1:
            if quote:  # a '}}' inside a quoted string does not close the template
                quote = "" if text[i] == quote else quote
                i += 2 if text[i] == "\\" else 1
            elif text.startswith("}}", i):
                end = i + 2
            else:
                quote, i = (text[i] if text[i] in "'\"" else ""), i + 1
        if end == -1 and (end := text.find("}}", start)) != -1:
            end += 2  # an unclosed quote: end at the first '}}' so parse() reports it
        if end == -1:
            return found, start
        found.append((start, end, text[start + 3 : end - 2].strip()))
        start = text.find("${{", end)
    return found, None


def find_templates(text: str) -> list[tuple[int, int, str]]:
    """(start, end, expression) per `${{ }}`: text[start:end] is the whole template."""
    return _scan(text)[0]


def render(text: str, ctx: Mapping[str, Any], quote: Callable[[str], str] | None = None) -> str:
    found, unterminated = _scan(text)
    if unterminated is not None:
        raise ConditionError("unterminated '${{'", unterminated + 1)
    parts, pos = [], 0
    for start, end, expr in found:
        value = to_text(evaluate(expr, ctx))
        parts += [text[pos:start], quote(value) if quote else value]
        pos = end
    return "".join(parts) + text[pos:]


def check_templates(text: str) -> list[ConditionError]:
    """Syntax errors of every template; columns are 1-based offsets into `text`."""
    found, unterminated = _scan(text)
    errors = []
    for start, end, expr in found:
        try:
            parse(expr)
        except ConditionError as exc:
            body = text[start + 3 : end - 2]
            offset = start + 3 + len(body) - len(body.lstrip())
            column = offset + exc.column if exc.column is not None else start + 1
            errors.append(ConditionError(exc.message, column))
    if unterminated is not None:
        errors.append(ConditionError("unterminated '${{'", unterminated + 1))
    return errors
