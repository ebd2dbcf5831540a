"""Budgets by tag and by month: what every workflow carrying the tag spent since the first of the
month counts (not another tag's, not last month's), and a new run of any workflow with the tag is
refused once it is spent."""

from __future__ import annotations

from datetime import timedelta

import pytest

from costs.budgets import period_start
from tests.costs.conftest import add_record, queued_run

pytestmark = pytest.mark.django_db(transaction=True)


def workflow_text(name: str, team: str) -> str:
    return f"name: {name}\ntags: {{team: {team}}}\ntasks:\n  a: {{run: 'true'}}\n"


@pytest.fixture
def month_budget():
    from costs.models import Budget

    return Budget.objects.create(scope=Budget.TAG, tag_key="team", tag_value="data", period=Budget.MONTH, limit=1.0)


def test_a_tag_month_budget_counts_every_workflow_with_the_tag_this_month(month_budget, client_as):
    first = queued_run(workflow_text("loader", "data"))
    second = queued_run(workflow_text("reporter", "data"))
    other = queued_run(workflow_text("web", "web"))
    start = period_start("month")
    add_record(first, 0.6, day=start)  # this month, another workflow with the tag
    add_record(other, 5.0, day=start)  # another tag: does not count
    add_record(second, 9.0, day=start - timedelta(days=1))  # last month: does not count
    client = client_as("operator")
    assert (
        client.post(f"/api/workflows/{second.workflow_id}/runs/", {}, content_type="application/json").status_code
        == 201
    )

    add_record(second, 0.5, day=start, attempt=2)  # now $1.10 this month across the tag
    refused = client.post(f"/api/workflows/{first.workflow_id}/runs/", {}, content_type="application/json")
    assert refused.status_code == 409
    assert "refused: the tag team=data budget $1 this month (UTC) is spent ($1.1000 so far)" in refused.json()["detail"]
    untagged = client.post(f"/api/workflows/{other.workflow_id}/runs/", {}, content_type="application/json")
    assert untagged.status_code == 201  # the web team's workflow is not held back


def test_the_api_lists_the_budget_with_what_its_period_spent(month_budget, client_as):
    run = queued_run(workflow_text("loader", "data"))
    add_record(run, 0.25, day=period_start("month"))
    rows = client_as("viewer").get("/api/costs/budgets/").json()
    rows = rows["results"] if isinstance(rows, dict) else rows
    row = next(r for r in rows if r["id"] == month_budget.pk)
    assert row["period"] == "month" and row["scope"] == "tag" and abs(row["spent"] - 0.25) < 1e-9
