"""Safe evaluator for `skip_if` conditions and the expressions in `${{ }}` templates (found and
rendered by .templates), GitHub-Actions style: a hand-written parser (no eval) whose names read
mapping keys, never Python attributes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NamedTuple

from .values import FUNCTIONS, ORDERING, ConditionError, coerce, contains, equals, lookup, to_number, to_text, truthy

# The public API, with the value rules it shares with the templates.
__all__ = ["ConditionError", "Expr", "evaluate", "parse", "to_text", "truthy"]

MAX_LENGTH = 2000
MAX_DEPTH = 100

_TOKEN = re.compile(
    r"""\s*(?:(?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_][\w-]*)
    |(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(?P<quote>['"])
    |(?P<op>==|!=|<=|>=|&&|\|\||[<>!()\[\],.])|(?P<end>\Z))""",
    re.VERBOSE | re.DOTALL | re.ASCII,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}
_LITERALS = {"true": True, "false": False, "null": None}
_LITERALS |= {"True": True, "False": False, "None": None}
_KEYWORDS = {"and", "or", "not", "in"}
_COMPARISONS = {"==", "!=", "<", "<=", ">", ">=", "in"}

# A node is a tuple: ("lit", value), ("name", id), ("path", node, keys), ("not", node),
# ("or" | "and" | "list", nodes), ("call", name, nodes) or ("cmp", op, left, right).
Node = tuple[Any, ...]


class _Token(NamedTuple):
    kind: str  # num, str, name, op or end
    text: str
    value: Any
    column: int


def _tokenize(src: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while not tokens or tokens[-1].kind != "end":
        match = _TOKEN.match(src, i)
        if match is None:
            column = len(src) - len(src[i:].lstrip()) + 1
            raise ConditionError(f"unexpected character {src[column - 1]!r}", column)
        kind = match.lastgroup or ""
        text, column, i = match.group(kind), match.start(kind) + 1, match.end()
        if kind == "quote":
            raise ConditionError("unterminated string", column)
        value = _unescape(text, column) if kind == "str" else text
        value = to_number(text) if kind == "num" else value
        tokens.append(_Token(kind, text, value, column))
    return tokens


def _unescape(text: str, column: int) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(1) not in _ESCAPES:
            where = column + 1 + match.start()
            raise ConditionError(f"unknown escape '{match.group()}'", where)
        return _ESCAPES[match.group(1)]

    return re.sub(r"\\(.)", replace, text[1:-1], flags=re.DOTALL)


class Expr:
    """A parsed expression; evaluate() raises nothing but ConditionError."""

    def __init__(self, node: Node, source: str, roots: frozenset[str]) -> None:
        self.node, self.source, self._roots = node, source, roots

    def evaluate(self, ctx: Mapping[str, Any]) -> Any:
        try:
            return _eval(self.node, ctx)
        except ConditionError:
            raise
        except Exception as exc:  # e.g. RecursionError comparing self-referencing data
            raise ConditionError(f"cannot evaluate {self.source!r}: {exc!r}") from exc

    def roots(self) -> set[str]:
        return set(self._roots)

    def paths(self) -> list[tuple[Any, ...]]:
        """Every name path read, e.g. ("tasks", "extract", "outputs", "rows"); for validation."""
        found: list[tuple[Any, ...]] = []
        stack = [self.node]
        while stack:
            node = stack.pop()
            if node[0] == "name":
                found.append((node[1],))
            elif node[0] == "path" and node[1][0] == "name":
                found.append((node[1][1], *node[2]))
            elif node[0] == "path":
                stack.append(node[1])
            elif node[0] in ("not",):
                stack.append(node[1])
            elif node[0] in ("or", "and", "list"):
                stack.extend(node[1])
            elif node[0] == "call":
                stack.extend(node[2])
            elif node[0] == "cmp":
                stack.extend(node[2:4])
        return found


def _eval(node: Node, ctx: Mapping[str, Any]) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "name":
        return lookup(ctx, node[1])
    if kind == "path":
        value = _eval(node[1], ctx)
        for key in node[2]:
            value = lookup(value, key)
        return value
    if kind == "not":
        return not truthy(_eval(node[1], ctx))
    if kind in ("or", "and"):
        # GitHub semantics: stop at the deciding operand and return its value, not a bool.
        for item in node[1]:
            if truthy(value := _eval(item, ctx)) == (kind == "or"):
                return value
        return value
    if kind == "list":
        return [_eval(item, ctx) for item in node[1]]
    if kind == "call":
        return FUNCTIONS[node[1].lower()][1](*(_eval(arg, ctx) for arg in node[2]))
    op, a, b = node[1], _eval(node[2], ctx), _eval(node[3], ctx)
    if op in ("==", "!="):
        return equals(a, b) == (op == "==")
    if op in ("in", "not in"):
        return contains(b, a) == (op == "in")
    pair = coerce(a, b)
    return pair is not None and ORDERING[op](*pair)


class _Parser:
    """Recursive descent; `depth` caps nesting so hostile input fails cleanly."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens, self.pos, self.depth, self.names = tokens, 0, 0, set[str]()

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        self.pos += 1
        return self.peek(-1)

    def at(self, *texts: str, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token.kind in ("name", "op") and token.text in texts

    def fail(self, token: _Token, expected: str = "") -> ConditionError:
        found = "end of expression" if token.kind == "end" else repr(token.text)
        found = f"string {token.text}" if token.kind == "str" else found
        text = f"expected {expected}, found" if expected else "unexpected"
        return ConditionError(f"{text} {found}", token.column)

    def expect(self, text: str) -> None:
        if not self.at(text):
            raise self.fail(self.peek(), repr(text))
        self.advance()

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ConditionError("expression is nested too deeply", self.peek().column)

    def parse_or(self) -> Node:
        # Every (, [ and call argument comes through here, so this counts nesting. `and`
        # groups are gathered inline so a level costs four Python frames (or, not,
        # comparison, primary), which keeps MAX_DEPTH far from the recursion limit.
        self.nest()
        groups: list[Node] = []
        while not groups or self.at("or", "||"):
            self.pos += bool(groups)  # step over the `or`
            items = [self.parse_not()]
            while self.at("and", "&&"):
                self.advance()
                items.append(self.parse_not())
            groups.append(items[0] if len(items) == 1 else ("and", tuple(items)))
        self.depth -= 1
        return groups[0] if len(groups) == 1 else ("or", tuple(groups))

    def parse_not(self) -> Node:
        if not self.at("not", "!"):
            return self.parse_comparison()
        self.advance()
        self.nest()
        node = ("not", self.parse_not())
        self.depth -= 1
        return node

    def comparison(self) -> str | None:
        if self.at(*_COMPARISONS):
            return self.advance().text
        if self.at("not") and self.at("in", ahead=1):
            self.pos += 2
            return "not in"
        return None

    def parse_comparison(self) -> Node:
        left = self.parse_primary()
        if (op := self.comparison()) is None:
            return left
        node = ("cmp", op, left, self.parse_primary())
        token = self.peek()
        if self.comparison() is not None:
            text = "not in" if token.text == "not" else token.text
            raise ConditionError(f"cannot chain comparisons, found '{text}'", token.column)
        return node

    def parse_primary(self) -> Node:
        token = self.advance()
        node: Node
        if token.kind in ("num", "str"):
            node = ("lit", token.value)
        elif token.kind == "name" and token.text in _LITERALS:
            node = ("lit", _LITERALS[token.text])
        elif token.kind == "name" and token.text not in _KEYWORDS and not self.at("("):
            node = ("name", token.text)
            self.names.add(token.text)
        elif token.kind == "name" and token.text not in _KEYWORDS:
            arity = FUNCTIONS.get(token.text.lower(), (None,))[0]
            if arity is None:
                raise ConditionError(f"unknown function '{token.text}'", token.column)
            self.advance()
            node = ("call", token.text, self.parse_items(")"))
            if len(node[2]) != arity:
                text = f"{token.text}() takes {arity} argument(s), got {len(node[2])}"
                raise ConditionError(text, token.column)
        elif token.kind == "op" and token.text == "(":
            node = self.parse_or()
            self.expect(")")
        elif token.kind == "op" and token.text == "[":
            node = ("list", self.parse_items("]"))
        else:
            raise self.fail(token)
        keys = []
        while self.at(".", "["):
            bracket = self.advance().text == "["
            key = self.advance()
            if key.kind not in (("num", "str") if bracket else ("name",)):
                raise self.fail(key, "a literal key" if bracket else "a property name")
            if bracket:
                self.expect("]")
            keys.append(key.value)
        return ("path", node, tuple(keys)) if keys else node

    def parse_items(self, close: str) -> tuple[Node, ...]:
        items: list[Node] = []
        while not self.at(close):
            if items and not self.at(","):
                raise self.fail(self.peek(), f"',' or '{close}'")
            self.pos += bool(items)  # step over the comma
            items.append(self.parse_or())
        self.advance()
        return tuple(items)


def parse(expr: str) -> Expr:
    if not isinstance(expr, str):
        raise ConditionError(f"expression must be a string, not {type(expr).__name__}")
    if len(expr) > MAX_LENGTH:
        raise ConditionError(f"expression is longer than {MAX_LENGTH} characters")
    parser = _Parser(_tokenize(expr))
    if parser.peek().kind == "end":
        raise ConditionError("empty expression")
    try:
        node = parser.parse_or()
    except RecursionError as exc:  # only if the caller's own stack is already deep
        raise ConditionError("expression is nested too deeply") from exc
    if parser.peek().kind != "end":
        raise parser.fail(parser.peek())
    return Expr(node, expr, frozenset(parser.names))


_parse_cached = lru_cache(maxsize=1024)(parse)


def evaluate(expr: str, ctx: Mapping[str, Any]) -> Any:
    return (_parse_cached(expr) if isinstance(expr, str) else parse(expr)).evaluate(ctx)
