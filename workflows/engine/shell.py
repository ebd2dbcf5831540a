"""Render `${{ }}` into a shell script so that no substituted value can run as a command.

One quoting is not enough: shlex.quote's '...' is inert inside "..." (so `echo "${{ x }}"` would
run a `$(...)` held in x) and closes early inside '...'. Each value is therefore escaped for the
context it lands in, found by a small scan of the script: unquoted, '...', "...", `...`, $(...),
a comment or a here-document body.

command_argv then decides how a task's command runs: exec'd directly when it has no shell
syntax, else through `/bin/sh -c`.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Mapping
from typing import Any

from . import conditions, templates

_HOLE = "\0"  # stands for a template while scanning; a shell argument can never hold a NUL
_WORD_END = " \t\n;&|<>()"
_DOUBLE_SPECIAL = re.compile(r'([\\$`"])')
_BODY_SPECIAL = re.compile(r"([\\$`])")  # special in "...", in `...` and in an unquoted here-document


def render_shell(script: str, ctx: Mapping[str, Any]) -> str:
    found = templates.find_templates(script)
    pieces, pos = [], 0
    for start, end, _expr in found:
        pieces.append(script[pos:start].replace(_HOLE, " "))
        pos = end
    rest = script[pos:]
    if "${{" in rest:  # find_templates stops at an unterminated one
        raise conditions.ConditionError("unterminated '${{'", len(script) - len(rest) + rest.find("${{") + 1)
    contexts = _contexts(_HOLE.join([*pieces, rest.replace(_HOLE, " ")]))
    parts, pos = [], 0
    for (start, end, expr), (stack, delimiter) in zip(found, contexts, strict=True):
        value = conditions.to_text(conditions.evaluate(expr, ctx))
        parts += [script[pos:start], _escape(value, stack, delimiter)]
        pos = end
    return "".join(parts) + rest


def _escape(value: str, stack: list[str], delimiter: str | None) -> str:
    kind = stack[-1]
    if kind in ("heredoc", "literal"):
        if any(line.lstrip("\t") == delimiter for line in value.split("\n")):
            raise conditions.ConditionError(f"a value holds the line '{delimiter}', which would end the here-document")
        if kind == "heredoc":
            value = _BODY_SPECIAL.sub(r"\\\1", value)
    elif kind == "single":
        value = value.replace("'", "'\\''")
    elif kind == "double":
        value = _DOUBLE_SPECIAL.sub(r"\\\1", value)
    elif kind == "comment":
        value = value.replace("\n", " ")
    else:
        value = shlex.quote(value)
    for _ in range(stack.count("tick")):  # the shell unescapes a `...` body once before parsing it
        value = _BODY_SPECIAL.sub(r"\\\1", value)
    return value


def _contexts(script: str) -> list[tuple[list[str], str | None]]:
    """For each hole: the quoting contexts around it (innermost last) and its here-document delimiter."""
    result: list[tuple[list[str], str | None]] = []
    stack = ["plain"]  # plain, sub ($(...)), tick (`...`), single, double, comment
    parens: list[int] = []  # "(" open inside each $(...)
    pending: list[tuple[str, bool, bool]] = []  # here-documents whose body starts at the next newline
    i, n = 0, len(script)
    while i < n:
        ch, top = script[i], stack[-1]
        if ch == _HOLE:
            result.append((list(stack), None))
        elif top == "single":
            if ch == "'":
                stack.pop()
        elif top == "comment":
            if ch == "\n":
                stack.pop()
                continue  # the newline may start a here-document body
        elif top == "double" and ch == '"':
            stack.pop()
        elif ch == "\\":
            i += 1
        elif ch == "`":
            if top == "tick":
                stack.pop()
            else:
                stack.append("tick")
        elif script.startswith("$(", i):
            stack.append("sub")
            parens.append(0)
            i += 1
        elif top == "double":
            pass
        elif ch in "'\"":
            stack.append("single" if ch == "'" else "double")
        elif top == "sub" and ch in "()":
            if ch == "(":
                parens[-1] += 1
            elif parens[-1]:
                parens[-1] -= 1
            else:
                stack.pop()
                parens.pop()
        elif ch == "#" and (i == 0 or script[i - 1] in _WORD_END):
            stack.append("comment")
        elif script.startswith("<<", i) and not script.startswith("<<<", i) and not (parens and parens[-1]):
            i = _heredoc_word(script, i + 2, pending)
            continue
        elif ch == "\n" and pending:
            i = _heredoc_bodies(script, i + 1, pending, stack, result)
            continue
        i += 1
    return result


def _heredoc_word(script: str, i: int, pending: list[tuple[str, bool, bool]]) -> int:
    strip_tabs = script.startswith("-", i)
    i += strip_tabs
    while i < len(script) and script[i] in " \t":
        i += 1
    start = i
    while i < len(script) and script[i] not in _WORD_END:
        if script[i] in "'\"":
            close = script.find(script[i], i + 1)
            i = len(script) if close == -1 else close + 1
        else:
            i += 1
    word = script[start:i]
    pending.append((re.sub(r"['\"\\]", "", word), any(c in word for c in "'\"\\"), strip_tabs))
    return i


def _heredoc_bodies(
    script: str,
    i: int,
    pending: list[tuple[str, bool, bool]],
    stack: list[str],
    result: list[tuple[list[str], str | None]],
) -> int:
    for delimiter, quoted, strip_tabs in pending:
        while i < len(script):
            end = script.find("\n", i)
            end = len(script) if end == -1 else end
            line, i = script[i:end], end + 1
            if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                break
            kind = "literal" if quoted else "heredoc"
            result.extend(([*stack, kind], delimiter) for _ in range(line.count(_HOLE)))
    pending.clear()
    return min(i, len(script))


# Words a plain exec can't run: they only mean something inside a shell.
SHELL_WORDS = frozenset(
    "cd export exit set unset source . alias if for while until case function return "
    "eval exec trap shift read wait ulimit umask local declare typeset readonly let { ! [[".split()
)
SHELL_CHARS = frozenset("|&;<>()$`\\*?[]#~{}!\n")


def command_argv(command: str | list[str], ctx: Mapping[str, Any] | None) -> list[str]:
    """Render ${{ }} and decide between a direct exec and `/bin/sh -c`.

    Substituted values are escaped for the quoting they land in (see shell.py), so an upstream
    output can never inject a command. A command with no shell syntax is exec'd directly: it
    saves a shell per task.
    """
    if isinstance(command, list):
        return [templates.render(arg, ctx or {}) for arg in command]
    if "${{" in command:  # rendered values are not kept
        text = render_shell(command, ctx or {})
        argv = _direct_argv.__wrapped__(text)
    else:
        text = command
        argv = _direct_argv(text)
    return list(argv) if argv is not None else ["/bin/sh", "-c", text]


@functools.lru_cache(maxsize=1024)
def _direct_argv(text: str) -> tuple[str, ...] | None:
    """The words of a command a plain exec can run; None if it needs a shell. Kept for texts
    written in the workflow: many of its tasks (every leg of a matrix) often run the same one."""
    if not SHELL_CHARS.isdisjoint(text):
        return None
    try:
        argv = shlex.split(text)
    except ValueError:
        return None
    if argv and argv[0] not in SHELL_WORDS and "=" not in argv[0]:
        return tuple(argv)
    return None
