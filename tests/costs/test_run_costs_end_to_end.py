"""A run through the real queue: every attempt priced, and the records sum to the total on the page and in the API."""

from __future__ import annotations

import re

import pytest

from tests.conftest import make_workflow, wait_for_run

pytestmark = pytest.mark.integration

WORKFLOW = """
name: costed
cost: {provider: aws, region: us-east-1, instance_type: m5.large, requests: {cpu: 1}}
tags: {team: data}
tasks:
  upload: {run: "echo cost.transfer_gb=2 >> $RUNNER_OUTPUT"}
  flaky: {run: "test -e marker || { touch marker; exit 1; }", retry: {max_attempts: 2, initial_delay: 0.05}}
  after: {run: "true", needs: [upload, flaky]}
"""


def test_records_sum_to_the_run_total_on_the_page_and_in_the_api(consumer, client_as, tmp_path):
    from costs.models import CostRecord, RunCost
    from workflows import runner

    run = runner.create_run(make_workflow(WORKFLOW, base_dir=str(tmp_path)), trigger="api")
    run = wait_for_run(run.pk)
    assert run.status == "success"
    records = list(CostRecord.objects.filter(run=run).order_by("node_id", "attempt_number"))
    assert [(r.node_id, r.attempt_number, r.is_retry) for r in records] == [
        ("after", 1, False), ("flaky", 1, False), ("flaky", 2, True), ("upload", 1, False),
    ]  # fmt: skip
    assert all(r.status == "priced" and r.taskrun_id and r.catalogue_id for r in records)
    total = sum(r.amount for r in records)
    cost = RunCost.objects.get(run=run)
    assert cost.final and cost.total == pytest.approx(total) and cost.records == 4
    assert cost.retries == pytest.approx(records[2].amount)
    upload = records[3]
    assert {line["what"]: line["amount"] for line in upload.lines}["transfer (reported)"] == pytest.approx(0.18)
    assert upload.tags == {"team": "data"}
    # The run prices with rates it worked out once; each record's own rates and inputs give it again.
    from costs.pricing.model import price

    for record in records:
        again = price(record.rates, record.inputs)
        assert [line.as_dict() for line in again.lines] == record.lines and again.amount == record.amount

    client = client_as("viewer")
    api = client.get(f"/api/costs/runs/{run.pk}/").json()
    assert api["total"] == pytest.approx(total) and api["final"] is True
    assert sum(n["total"] for n in api["nodes"].values()) == pytest.approx(total)
    assert {alt["provider"] for alt in api["what_if"]} == {"aws", "azure", "gcp"}
    listed = client.get(f"/api/costs/records/?run={run.pk}").json()["results"]
    assert sum(r["amount"] for r in listed) == pytest.approx(total)

    page = client.get(f"/runs/{run.pk}/").content.decode()
    shown = float(re.search(r'id="run-cost-total" data-total="([^"]+)"', page).group(1))
    assert shown == pytest.approx(total)
    assert 'id="cost-what-if"' in page


def test_an_unknown_instance_type_leaves_every_attempt_unpriced_with_the_reason(consumer):
    from costs.models import CostRecord, RunCost
    from workflows import runner

    text = (
        "name: mystery\ncost: {provider: aws, region: us-east-1, instance_type: m5.lrge}\ntasks:\n  a: {run: 'true'}\n"
    )
    run = wait_for_run(runner.create_run(make_workflow(text), trigger="api").pk)
    record = CostRecord.objects.get(run=run)
    assert record.status == "unpriced" and record.amount == 0
    assert "unknown aws instance type 'm5.lrge' (did you mean 'm5.large'?)" in record.reason
    assert RunCost.objects.get(run=run).unpriced == 1
