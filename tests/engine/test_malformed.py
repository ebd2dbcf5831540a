"""Every malformed workflow in malformed/ is refused with an error naming its line and field.

A YAML file states what it expects on its first line, `# expect: line N: FIELD: FRAGMENT`; a
JSON file (which has no comments) in a sibling `.expect` file, `line N: FIELD: FRAGMENT`.
FIELD is `-` for a file that does not parse at all, where no field can be named.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from workflows.engine.spec import WorkflowInvalid, parse_workflow

MALFORMED = Path(__file__).parent / "malformed"
CASES = sorted(p for p in MALFORMED.iterdir() if p.suffix in (".yaml", ".json"))
EXPECT = re.compile(r"^(?:# expect: )?line (\d+): (\S+): (.+)$")


def expectation(path: Path) -> tuple[int, str, str]:
    source = path.with_suffix(".expect") if path.suffix == ".json" else path
    match = EXPECT.match(source.read_text().splitlines()[0])
    assert match, f"{source.name} does not start with an expectation"
    line, field, fragment = match.groups()
    return int(line), "" if field == "-" else field, fragment


def errors_of(path: Path) -> list[tuple[int | None, str, str]]:
    with pytest.raises(WorkflowInvalid) as info:
        parse_workflow(path.read_text(), path.name)
    return [(e.line, e.field, e.message) for e in info.value.errors]


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name)
def test_it_names_the_line_and_field_of_the_mistake(path: Path) -> None:
    line, field, fragment = expectation(path)

    errors = errors_of(path)

    assert any(e == (line, field, e[2]) and fragment in e[2] for e in errors), errors


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name)
def test_it_puts_the_mistake_in_its_message(path: Path) -> None:
    line, field, fragment = expectation(path)

    with pytest.raises(WorkflowInvalid) as info:
        parse_workflow(path.read_text(), path.name)

    where = f"line {line}: {field}: " if field else f"line {line}: "
    assert any(text.startswith(where) and fragment in text for text in str(info.value).splitlines())


def test_it_has_enough_malformed_files_in_both_formats() -> None:
    suffixes = [p.suffix for p in CASES]

    assert len(CASES) >= 22
    assert suffixes.count(".json") >= 5 and suffixes.count(".yaml") >= 22


def test_every_error_of_every_file_names_a_line() -> None:
    unplaced = [(p.name, e) for p in CASES for e in errors_of(p) if not e[0]]

    assert unplaced == []
