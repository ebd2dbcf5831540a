"""A workflow file's `tracing:` section is checked with the file: errors name the line and field."""

from __future__ import annotations

import pytest

from workflows.engine.spec import WorkflowInvalid, parse_workflow

GOOD = """name: traced
tracing:
  sampler: tail
  ratio: 0.05
  tail: {slower_than: 120, slower_than_usual: 1.5, failed: true, retried: false, tags: {team: data}}
  attributes: {owner: data-team}
tasks:
  a: {run: "true"}
"""


def test_a_valid_section_is_kept_for_the_tracing_app():
    spec = parse_workflow(GOOD)
    assert spec.tracing["sampler"] == "tail" and spec.tracing["tail"]["tags"] == {"team": "data"}


def test_every_mistake_is_reported_at_its_line():
    text = """name: traced
tracing:
  sampler: sometimes
  ratio: 2
  tail: {slower_than_usual: 0.5, failed: maybe, colour: red}
  enabled: yes please
tasks:
  a: {run: "true"}
"""
    with pytest.raises(WorkflowInvalid) as caught:
        parse_workflow(text)
    assert [str(e) for e in caught.value.errors] == [
        "line 3: tracing.sampler: must be one of always_on, always_off, ratio, tail",
        "line 4: tracing.ratio: must be at most 1",
        "line 5: tracing.tail.colour: unknown field",
        "line 5: tracing.tail.failed: must be true or false, not a string",
        "line 5: tracing.tail.slower_than_usual: must be at least 1",
        "line 6: tracing.enabled: must be true or false, not a string",
    ]


def test_an_unknown_field_suggests_the_right_one():
    with pytest.raises(WorkflowInvalid, match=r"tracing.samplr: unknown field \(did you mean 'sampler'\?\)"):
        parse_workflow("name: t\ntracing: {samplr: tail}\ntasks:\n  a: {run: 'true'}\n")
