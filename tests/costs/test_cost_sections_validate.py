"""The workflow file's cost and budget sections are checked like the rest: line, field, message."""

from __future__ import annotations

import pytest

from workflows.engine.spec import WorkflowInvalid, parse_workflow

BAD = """name: x
cost: {provider: ibm, region: r, instance_type: t, model: fixed, requests: {cpu: -1}, usage: {gbs: 1}}
budget: {run: 0, weekly: 3, warn_at: 2}
tasks:
  a: {run: 'true', cost: {provider: aws}}
"""


def test_every_mistake_is_named_with_its_line():
    with pytest.raises(WorkflowInvalid) as caught:
        parse_workflow(BAD)
    errors = {str(e) for e in caught.value.errors}
    assert {
        "line 2: cost.provider: must be one of aws, azure, gcp",
        "line 2: cost.model: must be one of allocation, instance",
        "line 2: cost.requests.cpu: must be at least 0",
        "line 2: cost.usage.gbs: unknown field",
        "line 3: budget.run: must be above 0 (leave it out for no budget)",
        "line 3: budget.weekly: unknown field",
        "line 3: budget.warn_at: must be at most 1",
        "line 5: tasks.a.cost.provider: unknown field",
    } <= errors


def test_a_good_cost_section_parses():
    spec = parse_workflow(
        "name: x\ncost: {provider: azure, region: eastus, instance_type: Standard_D2s_v3, model: instance}\n"
        "budget: {day: 5, warn_at: 0.9}\ntasks:\n  a: {run: 'true', cost: {usage: {transfer_gb: 1}}}\n"
    )
    assert spec.cost["model"] == "instance" and spec.budget == {"day": 5, "warn_at": 0.9}
    assert spec.tasks["a"].cost == {"usage": {"transfer_gb": 1}}
