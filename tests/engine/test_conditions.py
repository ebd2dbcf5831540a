"""The safe condition and template evaluator: grammar, semantics, errors and security."""

from __future__ import annotations

import re
import shlex
from typing import Any

import pytest

from workflows.engine.conditions import ConditionError, evaluate, parse, to_text, truthy
from workflows.engine.templates import check_templates, find_templates, render

CTX: dict[str, Any] = {
    "extract": {"outputs": {"rows": "0", "name": "Sales", "ok": "true"}},
    "build-docs": {"result": "success"},
    "transform": {"outputs": {"format=csv": {"rows": "12"}, "a b": "spaced"}},
    "matrix": {"format": "csv"},
    "params": {"limit": 10, "ratio": 0.5, "tags": ["a", "b"], "flag": True},
    "items": [10, 20, 30],
    "empty": "",
    "zero": 0,
}


def ev(expr: str, ctx: dict[str, Any] | None = None) -> Any:
    return evaluate(expr, CTX if ctx is None else ctx)


def error_of(expr: str) -> ConditionError:
    with pytest.raises(ConditionError) as info:
        parse(expr)
    return info.value


# Literals


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("42", 42),
        ("2.5", 2.5),
        ("-1", -1),
        ("-2.5", -2.5),
        ("1e3", 1000.0),
        ("'single'", "single"),
        ('"double"', "double"),
        ("true", True),
        ("false", False),
        ("null", None),
        ("True", True),
        ("False", False),
        ("None", None),
        ("[1, 'a', null]", [1, "a", None]),
        ("[]", []),
    ],
)
def test_literals(expr: str, expected: Any) -> None:
    result = ev(expr)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (r"'a\nb'", "a\nb"),
        (r"'a\tb'", "a\tb"),
        (r"'a\\b'", "a\\b"),
        (r"'it\'s'", "it's"),
        (r'"say \"hi\""', 'say "hi"'),
        (r"'mixed \"quotes\"'", 'mixed "quotes"'),
        ("'a \"b\" c'", 'a "b" c'),
    ],
)
def test_string_escapes(expr: str, expected: str) -> None:
    assert ev(expr) == expected


def test_unknown_escape_is_an_error_at_the_backslash() -> None:
    error = error_of(r"'ab\qc'")
    assert error.message == "unknown escape '\\q'"
    assert error.column == 4


# Names, paths and subscripts


def test_name_paths_read_nested_mappings() -> None:
    assert ev("extract.outputs.rows") == "0"
    assert ev("matrix.format") == "csv"
    assert ev("params.limit") == 10


def test_missing_names_are_null() -> None:
    assert ev("nope") is None
    assert ev("nope.deeper.still") is None
    assert ev("extract.outputs.missing") is None
    assert ev("nope == null") is True


def test_hyphenated_identifiers_are_one_name() -> None:
    assert ev("build-docs.result") == "success"
    assert ev("build-docs.result == 'success'") is True
    assert parse("build-docs.result").roots() == {"build-docs"}


def test_subscripts_with_odd_string_keys() -> None:
    assert ev('transform.outputs["format=csv"].rows') == "12"
    assert ev("transform.outputs['format=csv'].rows == 12") is True
    assert ev("transform.outputs['a b']") == "spaced"
    assert ev("extract['outputs'][\"rows\"]") == "0"


def test_list_indexes() -> None:
    assert ev("items[0]") == 10
    assert ev("items[2]") == 30
    assert ev("items[3]") is None
    assert ev("items[-1]") is None  # no Python negative indexing
    assert ev("params.tags[1]") == "b"


def test_access_on_non_containers_is_null() -> None:
    assert ev("extract.outputs.rows.length") is None
    assert ev("items.first") is None
    assert ev("extract[0]") is None
    assert ev("'text'[0]") is None
    assert ev("params.limit.real") is None


def test_keywords_are_allowed_as_property_names() -> None:
    ctx = {"a": {"in": 1, "not": 2, "true": 3}}
    assert ev("a.in", ctx) == 1
    assert ev("a.not", ctx) == 2
    assert ev("a.true", ctx) == 3


# Operators


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("1 == 1", True),
        ("1 == 2", False),
        ("1 != 2", True),
        ("1 != 1", False),
        ("1 < 2", True),
        ("2 < 1", False),
        ("2 <= 2", True),
        ("3 <= 2", False),
        ("3 > 2", True),
        ("2 > 3", False),
        ("2 >= 2", True),
        ("1 >= 2", False),
        ("'b' > 'a'", True),
        ("'B' < 'a'", True),  # plain code-point order, case-sensitive
        ("'a' in ['a', 'b']", True),
        ("'c' in ['a', 'b']", False),
        ("'c' not in ['a', 'b']", True),
        ("'a' not in ['a', 'b']", False),
        ("'outputs' in extract", True),
        ("'ale' in extract.outputs.name", True),
        ("'ALE' in extract.outputs.name", False),
        ("1 in 'a1'", False),
        ("'a' in null", False),
        ("'a' in 5", False),
        ("'12' in [12]", True),
    ],
)
def test_comparison_operators(expr: str, expected: bool) -> None:
    assert ev(expr) is expected


def test_in_on_mapping_checks_keys_not_values() -> None:
    assert ev("'rows' in extract.outputs") is True
    assert ev("'0' in extract.outputs") is False
    assert ev("'outputs' in extract") is True


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("true and true", True),
        ("true and false", False),
        ("true && false", False),
        ("false or true", True),
        ("false || false", False),
        ("not true", False),
        ("not null", True),
        ("!false", True),
        ("!!'x'", True),
        ("not not 0", False),
    ],
)
def test_boolean_operators(expr: str, expected: bool) -> None:
    assert ev(expr) is expected


def test_and_or_return_the_deciding_operand() -> None:
    assert ev("matrix.format or 'json'") == "csv"
    assert ev("nope or 'json'") == "json"
    assert ev("empty or zero") == 0
    assert ev("'a' and 'b'") == "b"
    assert ev("zero and 'b'") == 0
    assert ev("empty && 'b'") == ""


def test_and_or_short_circuit() -> None:
    # fromJSON('{') raises when evaluated, so these pass only if it is never reached.
    assert ev("false and fromJSON('{')") is False
    assert ev("'x' or fromJSON('{')") == "x"
    assert ev("false and true or 'done'") == "done"
    with pytest.raises(ConditionError):
        ev("true and fromJSON('{')")


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("true or true and false", True),  # and binds tighter than or
        ("(true or true) and false", False),
        ("false and false or true", True),
        ("not false and false", False),  # not binds tighter than and
        ("not (false and false)", True),
        ("not 1 == 2", True),  # comparisons bind tighter than not
        ("!1 == 2", True),
        ("not 'a' in ['a']", False),
        ("1 == 1 and 2 == 2", True),
        ("1 == 2 or 'b' in ['b']", True),
    ],
)
def test_precedence(expr: str, expected: bool) -> None:
    assert ev(expr) is expected


# Coercion


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("extract.outputs.rows == 0", True),
        ("extract.outputs.rows != 0", False),
        ("extract.outputs.rows == '0'", True),
        ("extract.outputs.rows < 1", True),
        ("' 7 ' == 7", True),
        ("'2.50' == 2.5", True),
        ("'1e2' == 100", True),
        ("'10' > 9", True),  # numeric, not string, ordering
        ("'10' > '9'", False),  # both strings compare as strings
        ("'abc' == 0", False),
        ("'abc' != 0", True),
        ("'abc' < 1", False),
        ("'abc' >= 1", False),
        ("'' == 0", False),
        ("'Sales' == 'sales'", False),  # string equality is case-sensitive
        ("true == 1", True),
        ("false == 0", True),
        ("true > 0", True),
        ("true == 2", False),
        ("extract.outputs.ok == true", True),
        ("'FALSE' == false", True),
        ("false != ' False '", False),
        ("'yes' == true", False),
        ("null == null", True),
        ("null == 0", False),
        ("null == ''", False),
        ("null != 0", True),
        ("null < 1", False),
        ("null >= null", False),
        ("1 == 1.0", True),
        ("[1, 2] == [1, 2]", True),
        ("[1] < [2]", False),
        ("params.tags == 'a'", False),
        ("params < 1", False),
    ],
)
def test_coercion(expr: str, expected: bool) -> None:
    assert ev(expr) is expected


# Functions


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("contains('hello world', 'o w')", True),
        ("contains('hello', 'H')", False),  # case-sensitive, like `in`
        ("contains(params.tags, 'b')", True),
        ("contains(params.tags, 'z')", False),
        ("contains(extract.outputs, 'rows')", True),
        ("contains(null, 'a')", False),
        ("startsWith('Hello', 'he')", True),
        ("startsWith('Hello', 'lo')", False),
        ("endsWith('report.CSV', '.csv')", True),
        ("endsWith('report.csv', '.json')", False),
        ("STARTSWITH('abc', 'a')", True),  # function names ignore case, as in GitHub
        ("length('abc')", 3),
        ("length(params.tags)", 2),
        ("length(extract.outputs)", 3),
        ("length(nope)", 0),
        ("fromJSON('{\"a\": [1, 2]}').a[1]", 2),
        ("fromJSON('[1, 2]')", [1, 2]),
        ("toJSON(params.tags)", '["a","b"]'),
        ("toJSON('x')", '"x"'),
        ("toJSON(null)", "null"),
    ],
)
def test_functions(expr: str, expected: Any) -> None:
    assert ev(expr) == expected


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("fromJSON('{')", "fromJSON() needs a JSON string"),
        ("fromJSON(nope)", "fromJSON() needs a JSON string"),
        ("length(5)", "length() needs a string, list or object, not int"),
    ],
)
def test_function_errors_are_condition_errors(expr: str, message: str) -> None:
    with pytest.raises(ConditionError, match=re.escape(message)):
        ev(expr)


def test_unknown_function_is_a_parse_error_naming_it() -> None:
    error = error_of("a == format('x')")
    assert error.message == "unknown function 'format'"
    assert error.column == 6


def test_wrong_argument_count_is_a_parse_error() -> None:
    error = error_of("contains('a')")
    assert error.message == "contains() takes 2 argument(s), got 1"
    assert error.column == 1
    assert error_of("length()").message == "length() takes 1 argument(s), got 0"


# Security


class Secretive:
    rows = "0"

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"attribute {name} was read")


def test_dunder_properties_are_plain_missing_keys() -> None:
    assert ev("extract.__class__") is None
    assert ev("extract.__class__.__mro__") is None
    assert ev("'x'.__class__") is None
    assert ev("items.__len__") is None
    assert ev("__builtins__") is None
    assert ev("extract['__class__']") is None


def test_objects_in_the_context_are_never_walked_by_attribute() -> None:
    ctx = {"task": Secretive()}
    assert ev("task.rows", ctx) is None
    assert ev("task.anything", ctx) is None
    assert ev("task['rows']", ctx) is None


def test_python_calls_never_parse() -> None:
    assert error_of("__import__('os')").message == "unknown function '__import__'"
    assert error_of("eval('1')").message == "unknown function 'eval'"
    unexpected = "unexpected '('"
    assert error_of("extract.outputs.get('rows')").message == unexpected
    assert error_of("''.join(['a'])").message == unexpected


def test_evaluate_never_runs_code(tmp_path: Any) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(ConditionError):
        ev(f"__import__('os').system('touch {marker}')")
    assert not marker.exists()


def test_runtime_failures_become_condition_errors() -> None:
    loop: list[Any] = []
    loop.append(loop)
    other: list[Any] = []
    other.append(other)
    with pytest.raises(ConditionError, match="cannot evaluate"):
        ev("a == b", {"a": loop, "b": other})
    with pytest.raises(ConditionError, match="cannot convert to JSON"):
        ev("toJSON(a)", {"a": loop})


def test_deep_nesting_is_a_condition_error_not_recursion_error() -> None:
    for expr in ["(" * 150 + "1" + ")" * 150, "[" * 150 + "]" * 150, "!" * 150 + "x"]:
        with pytest.raises(ConditionError, match="nested too deeply"):
            parse(expr)
    assert ev("(" * 90 + "1" + ")" * 90) == 1
    assert ev("not " * 95 + "false") is True


def test_expressions_longer_than_the_limit_are_rejected() -> None:
    assert ev(" or ".join(["false"] * 199) + " or 'last'") == "last"
    long = "a" * 2001
    assert "longer than 2000" in error_of(long).message
    with pytest.raises(ConditionError):
        evaluate(long, {})


def test_long_flat_chains_do_not_recurse() -> None:
    ctx = {"a": {"b": {}}}
    assert ev(".".join(["a"] + ["b"] * 900), ctx) is None
    assert ev(" and ".join(["true"] * 220)) is True


# Syntax errors


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        ("a ==", "unexpected end of expression at column 5"),
        ("(a", "expected ')', found end of expression at column 3"),
        ("a b", "unexpected 'b' at column 3"),
        ("1 < 2 < 3", "cannot chain comparisons, found '<' at column 7"),
        ("a == b != c", "cannot chain comparisons, found '!=' at column 8"),
        ("a in b not in c", "cannot chain comparisons, found 'not in' at column 8"),
        ("a == 'x", "unterminated string at column 6"),
        ('"abc\\"', "unterminated string at column 1"),
        ("a)", "unexpected ')' at column 2"),
        ("a.", "expected a property name, found end of expression at column 3"),
        ("a.1", "expected a property name, found '1' at column 3"),
        ("a[b]", "expected a literal key, found 'b' at column 3"),
        ("a[0", "expected ']', found end of expression at column 4"),
        ("[1 2]", "expected ',' or ']', found '2' at column 4"),
        ("[1,]", "unexpected ']' at column 4"),
        ("contains('a' 'b')", "expected ',' or ')', found string 'b' at column 14"),
        ("a @ b", "unexpected character '@' at column 3"),
        ("a - 1", "unexpected character '-' at column 3"),
        ("a -1", "unexpected '-1' at column 3"),
        ("a and", "unexpected end of expression at column 6"),
        ("or a", "unexpected 'or' at column 1"),
        ("not in a", "unexpected 'in' at column 5"),
        ("a == = b", "unexpected character '=' at column 6"),
        ("a = b", "unexpected character '=' at column 3"),
        ("1.2.3", "expected a property name, found '3' at column 5"),
        ("", "empty expression"),
        ("   ", "empty expression"),
    ],
)
def test_syntax_errors_name_the_column(expr: str, text: str) -> None:
    error = error_of(expr)
    assert str(error) == text
    assert isinstance(error, ValueError)


def test_condition_error_carries_message_and_column() -> None:
    error = error_of("(a")
    assert error.message == "expected ')', found end of expression"
    assert error.column == 3
    assert error_of("").column is None


def test_non_string_expression_is_a_condition_error() -> None:
    with pytest.raises(ConditionError, match="must be a string"):
        evaluate(True, {})  # type: ignore[arg-type]  # YAML `skip_if: true`


# Templates


def test_find_templates_gives_positions_and_stripped_expressions() -> None:
    text = "run ${{ matrix.format }} then ${{tasks.extract.outputs.rows}}!"
    found = find_templates(text)
    assert found == [
        (4, 24, "matrix.format"),
        (30, 61, "tasks.extract.outputs.rows"),
    ]
    assert [text[start:end] for start, end, _ in found] == [
        "${{ matrix.format }}",
        "${{tasks.extract.outputs.rows}}",
    ]
    assert find_templates("no templates here, just } and {{") == []


def test_find_templates_skips_braces_inside_strings() -> None:
    text = "echo ${{ 'a}}b' == x }} done"
    assert find_templates(text) == [(5, 23, "'a}}b' == x")]
    assert find_templates(r"${{ 'it\'s }}' }}") == [(0, 17, r"'it\'s }}'")]


def test_render_substitutes_values_as_text() -> None:
    ctx = {
        "matrix": {"format": "csv"},
        "tasks": {"extract": {"outputs": {"rows": "7"}}},
    }
    text = "python t.py --format ${{ matrix.format }} --rows=${{ tasks.extract.outputs.rows }}"
    assert render(text, ctx) == "python t.py --format csv --rows=7"
    assert render("no templates", ctx) == "no templates"
    assert render("[${{ nope }}]", ctx) == "[]"
    assert render("${{ 1 == 1 }} ${{ 2.0 }} ${{ [1, 'a'] }}", ctx) == 'true 2 [1,"a"]'


def test_render_applies_quote_to_each_substituted_value_only() -> None:
    ctx = {"matrix": {"format": "a b; rm -rf /"}}
    text = "echo '${{ matrix.format }}' ${{ matrix.format }}"
    assert render(text, ctx, quote=shlex.quote) == ("echo ''a b; rm -rf /'' 'a b; rm -rf /'")
    assert render("x=${{ nope }}", ctx, quote=shlex.quote) == "x=''"
    assert render("--${{ 'n' }}--", ctx, quote=str.upper) == "--N--"


def test_render_raises_on_bad_templates() -> None:
    with pytest.raises(ConditionError, match="unterminated '\\$\\{\\{' at column 6"):
        render("echo ${{ matrix.format", {})
    with pytest.raises(ConditionError, match="unexpected 'b'"):
        render("${{ a b }}", {})


def test_check_templates_reports_syntax_errors_with_text_columns() -> None:
    errors = check_templates("ok ${{ a }} bad ${{ a b }} also ${{ (x }}")
    assert [str(error) for error in errors] == [
        "unexpected 'b' at column 23",
        "expected ')', found end of expression at column 39",
    ]
    assert check_templates("fine ${{ a.b == 'c' }} and ${{ contains(x, 'y') }}") == []


def test_check_templates_reports_unterminated_opening() -> None:
    errors = check_templates("run ${{ a }} then ${{ matrix.format")
    assert len(errors) == 1
    assert errors[0].message == "unterminated '${{'"
    assert errors[0].column == 19
    assert check_templates("${{ unknown_fn(1) }}")[0].message == ("unknown function 'unknown_fn'")


def test_check_templates_reports_empty_and_unterminated_strings() -> None:
    empty, bad_string = check_templates("${{ }} and ${{ 'oops }}")
    assert (empty.message, empty.column) == ("empty expression", 1)
    assert (bad_string.message, bad_string.column) == ("unterminated string", 16)


# Value helpers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (False, False),
        (0, False),
        (0.0, False),
        ("", False),
        (None, False),
        (float("nan"), False),
        (True, True),
        (1, True),
        (-0.5, True),
        ("0", True),
        ("false", True),
        (" ", True),
        ([], True),
        ({}, True),
    ],
)
def test_truthy_follows_github_rules(value: Any, expected: bool) -> None:
    assert truthy(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (3, "3"),
        (1.0, "1"),
        (2.5, "2.5"),
        ("as is", "as is"),
        ({"a": [1, None]}, '{"a":[1,null]}'),
        (["é", 2], '["é",2]'),
    ],
)
def test_to_text(value: Any, expected: str) -> None:
    assert to_text(value) == expected


def test_roots_are_first_identifiers_of_every_name_path() -> None:
    expr = parse(
        "extract.outputs.rows == 0 and (params.limit > 1 or "
        "contains(build-docs.result, matrix['format'])) and 'lit' in [other, 1]"
    )
    assert expr.roots() == {"extract", "params", "build-docs", "matrix", "other"}
    assert parse("1 == 'a' and true").roots() == set()
    assert parse("fromJSON(x.json).key").roots() == {"x"}


def test_roots_returns_a_copy() -> None:
    expr = parse("a.b")
    expr.roots().add("mutated")
    assert expr.roots() == {"a"}
