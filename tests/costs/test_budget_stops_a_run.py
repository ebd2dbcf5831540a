"""A run whose cost crosses its budget while it runs is warned, then stopped with the reason."""

from __future__ import annotations

import time

import pytest

from tests.conftest import make_workflow, wait_for_run

pytestmark = pytest.mark.integration

# 1000 requested vCPUs on an m5.large split: 1000 x $0.0312471/h = about $0.0087 a second.
WORKFLOW = """
name: runaway
cost: {provider: aws, region: us-east-1, instance_type: m5.large, requests: {cpu: 1000}}
budget: {run: 0.03, warn_at: 0.5}
tasks:
  long: {run: "sleep 30"}
  later: {run: "true", needs: [long]}
"""


def test_a_budget_stops_a_run_that_would_exceed_it(consumer, client_as):
    from costs.models import BudgetAlert, CostRecord
    from workflows import runner

    start = time.monotonic()
    run = runner.create_run(make_workflow(WORKFLOW), trigger="api")
    run = wait_for_run(run.pk, timeout=20)
    assert time.monotonic() - start < 15  # stopped, not left to sleep 30 s
    assert run.status == "cancelled"
    assert "budget $0.03 per run would be exceeded" in run.message
    levels = list(BudgetAlert.objects.filter(run=run).order_by("id").values_list("level", flat=True))
    assert levels == ["warning", "stopped"]
    assert run.tasks.get(node_id="later").status == "cancelled"
    assert CostRecord.objects.get(run=run, node_id="long").amount > 0.03
    api = client_as("viewer").get(f"/api/costs/runs/{run.pk}/").json()
    assert [a["level"] for a in api["alerts"]] == ["warning", "stopped"]
    assert "would be exceeded" in api["message"]
