"""Two pricing paths end to end through a real run: the instance model (the instance's hourly
price times wall time, each moment divided among the tasks running then) and usage a workflow
declares for a task (priced like usage a script reports, marked "declared")."""

from __future__ import annotations

import pytest

from tests.conftest import make_workflow

pytestmark = pytest.mark.django_db(transaction=True)

INSTANCE = """
name: shared_box
max_parallel: 2
cost: {provider: aws, region: us-east-1, instance_type: m5.large, model: instance}
tasks:
  left: {run: "sleep 0.4"}
  right: {run: "sleep 0.4"}
"""

DECLARED = """
name: declares
cost: {provider: aws, region: us-east-1, instance_type: m5.large}
tasks:
  ship:
    run: "true"
    cost: {usage: {transfer_gb: 3}}
"""


def run(text: str):
    from workflows import runner
    from workflows.models import Run

    created = runner.create_run(make_workflow(text), enqueue=False)
    runner.execute(created.pk)
    return Run.objects.get(pk=created.pk)


def test_the_instance_model_divides_the_time_among_tasks_running_at_once():
    from costs.models import CostRecord

    done = run(INSTANCE)
    assert done.status == "success", done.message
    records = list(CostRecord.objects.filter(run=done))
    assert len(records) == 2 and all(r.model == "instance" and r.status == "priced" for r in records)
    hourly = records[0].rates["instance"]["hourly"]
    assert hourly == pytest.approx(0.096)  # m5.large in us-east-1, from the libcloud file
    walls = [r.inputs["wall_s"] for r in records]
    shares = [r.inputs["shared_s"] for r in records]
    # The two ran together for most of their time: each pays about half of that stretch.
    assert all(share < wall - 0.1 for share, wall in zip(shares, walls)), (shares, walls)
    assert max(walls) <= sum(shares) <= sum(walls)  # together: the instance's time, once
    for record, share in zip(records, shares):
        assert record.amount == pytest.approx(hourly * share / 3600)
        assert "shared with the tasks running at once" in record.lines[0]["formula"]


def test_usage_a_task_declares_is_priced_and_marked_declared():
    from costs.models import CostRecord

    done = run(DECLARED)
    assert done.status == "success", done.message
    record = CostRecord.objects.get(run=done)
    lines = {line["what"]: line for line in record.lines}
    assert lines["transfer (declared)"]["amount"] == pytest.approx(3 * 0.09)
    assert record.inputs["declared"] == {"transfer_gb": 3.0}
    assert record.amount == pytest.approx(sum(line["amount"] for line in record.lines))
