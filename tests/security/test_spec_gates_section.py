"""The workflow file's `gates:` section is validated with the line and field of each mistake."""

from __future__ import annotations

import pytest

from workflows.engine.spec import WorkflowInvalid, parse_workflow

VALID = """\
name: gated
gates:
  code: {block_on: high, new_only: true}
  dependencies: {requirements: [requirements.txt, extra/requirements.txt], block_on: critical}
  secrets: {block: true, baseline: .secrets.baseline}
tasks:
  a: {run: "true"}
"""


def test_a_full_gates_section_is_valid():
    spec = parse_workflow(VALID)

    assert spec.gates["code"] == {"block_on": "high", "new_only": True}
    assert spec.gates["secrets"]["block"] is True


@pytest.mark.parametrize("gates, line, message", [
    ("{code: {block_on: severe}}", 2, "gates.code.block_on: must be one of critical"),
    ("{code: {new_only: sometimes}}", 2, "gates.code.new_only: must be true or false"),
    ("{secrets: {block: yes please}}", 2, "gates.secrets.block: must be true or false"),
    ("{code: {blok_on: high}}", 2, "gates.code.blok_on: unknown field (did you mean 'block_on'?)"),
    ("{licences: {}}", 2, "gates.licences: unknown gate"),
    ("{dependencies: {requirements: ../../etc/passwd}}", 2, "must be a path inside the workflow's folder"),
    ("{code: high}", 2, "gates.code: must be a mapping"),
])  # fmt: skip
def test_mistakes_name_their_line_and_field(gates, line, message):
    with pytest.raises(WorkflowInvalid) as caught:
        parse_workflow(f"name: g\ngates: {gates}\ntasks:\n  a: {{run: 'true'}}\n")

    assert any(str(e).startswith(f"line {line}: ") and message in str(e) for e in caught.value.errors), caught.value
