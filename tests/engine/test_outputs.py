"""Reading a task's outputs file: key=value lines and GitHub-style multi-line values."""

from __future__ import annotations

from workflows.engine.outputs import MAX_OUTPUT_BYTES, parse_outputs


def test_it_reads_key_value_lines() -> None:
    outputs, warnings = parse_outputs("rows=3\nname=Sales\n")

    assert outputs == {"rows": "3", "name": "Sales"}
    assert warnings == []


def test_it_splits_at_the_first_equals_sign_only() -> None:
    outputs, _ = parse_outputs("query=a=b&c=d\n")

    assert outputs == {"query": "a=b&c=d"}


def test_it_keeps_the_value_exactly_as_written() -> None:
    outputs, _ = parse_outputs("title=  hello world \nempty=\nshift=a<<b\n")

    assert outputs == {"title": "  hello world ", "empty": "", "shift": "a<<b"}


def test_it_lets_a_later_line_replace_an_earlier_one() -> None:
    outputs, _ = parse_outputs("rows=1\nrows=2\n")

    assert outputs == {"rows": "2"}


def test_it_reads_a_multi_line_value_between_delimiters() -> None:
    text = "body<<EOF\nfirst line\n\nthird line\nEOF\nafter=1\n"

    outputs, warnings = parse_outputs(text)

    assert outputs == {"body": "first line\n\nthird line", "after": "1"}
    assert warnings == []


def test_it_does_not_read_keys_inside_a_multi_line_value() -> None:
    outputs, _ = parse_outputs("notes<<END_OF_NOTES\nrows=5\nEOF\nEND_OF_NOTES\n")

    assert outputs == {"notes": "rows=5\nEOF"}


def test_it_reads_an_empty_multi_line_value() -> None:
    outputs, _ = parse_outputs("body<<EOF\nEOF\n")

    assert outputs == {"body": ""}


def test_it_warns_about_an_unterminated_delimiter_and_drops_the_value() -> None:
    outputs, warnings = parse_outputs("rows=1\nbody<<EOF\nline one\nline two\n")

    assert outputs == {"rows": "1"}
    assert len(warnings) == 1
    assert "'body'" in warnings[0] and "'EOF'" in warnings[0] and "never closed" in warnings[0]


def test_it_ignores_a_bad_key_with_a_warning() -> None:
    outputs, warnings = parse_outputs("1rows=3\nbad key=2\nok=1\n")

    assert outputs == {"ok": "1"}
    assert len(warnings) == 2
    assert "'1rows'" in warnings[0] and "'bad key'" in warnings[1]


def test_it_warns_about_a_line_that_is_neither_form() -> None:
    outputs, warnings = parse_outputs("rows=1\njust some text\n")

    assert outputs == {"rows": "1"}
    assert warnings == ["output line 2 is neither key=value nor key<<DELIMITER"]


def test_it_reads_crlf_line_endings() -> None:
    text = "rows=3\r\nbody<<EOF\r\nline one\r\nline two\r\nEOF\r\n"

    outputs, warnings = parse_outputs(text)

    assert outputs == {"rows": "3", "body": "line one\nline two"}
    assert warnings == []


def test_it_skips_blank_lines() -> None:
    outputs, warnings = parse_outputs("\n\nrows=3\n   \nname=x")

    assert outputs == {"rows": "3", "name": "x"}
    assert warnings == []


def test_it_ignores_outputs_over_the_size_limit() -> None:
    outputs, warnings = parse_outputs("big=" + "x" * MAX_OUTPUT_BYTES)

    assert outputs == {}
    assert "larger than" in warnings[0]
