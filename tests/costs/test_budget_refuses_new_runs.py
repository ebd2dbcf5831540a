"""When a period's budget is spent, new runs are refused (UI and API) unless an admin allows one."""

from __future__ import annotations

import pytest

from tests.costs.conftest import add_record, queued_run

WORKFLOW = "name: thrifty\ntasks:\n  a: {run: 'true'}\n"


@pytest.fixture
def spent(transactional_db):
    from costs.models import Budget

    run = queued_run(WORKFLOW)
    add_record(run, 1.25)
    Budget.objects.create(scope=Budget.WORKFLOW, workflow=run.workflow, period=Budget.DAY, limit=1.0)
    return run.workflow


def test_the_api_refuses_a_run_with_the_reason(spent, client_as):
    response = client_as("operator").post(f"/api/workflows/{spent.pk}/runs/", {}, content_type="application/json")
    assert response.status_code == 409
    assert (
        "refused: the workflow 'thrifty' budget $1 today (UTC) is spent ($1.2500 so far)" in response.json()["detail"]
    )
    assert spent.runs.count() == 1


def test_the_page_refuses_a_run_with_the_reason(spent, client_as):
    response = client_as("operator").post(f"/workflows/{spent.pk}/run/", follow=True)
    assert "is spent" in response.content.decode()
    assert spent.runs.count() == 1


def test_an_admin_override_lets_exactly_one_run_through(spent, client_as):
    from costs.models import BudgetOverride
    from workflows import runner
    from workflows.models import Run

    assert client_as("operator").post("/api/costs/overrides/", {"workflow": spent.pk}).status_code == 403
    admin = client_as("admin")
    assert admin.post("/api/costs/overrides/", {"workflow": spent.pk, "reason": "month end"}).status_code == 201
    created = admin.post(f"/api/workflows/{spent.pk}/runs/", {}, content_type="application/json")
    assert created.status_code == 201
    runner.execute(created.json()["id"])
    assert Run.objects.get(pk=created.json()["id"]).status == "success"
    assert BudgetOverride.objects.get().used_by_id == created.json()["id"]
    again = admin.post(f"/api/workflows/{spent.pk}/runs/", {}, content_type="application/json")
    assert again.status_code == 409


def test_a_run_queued_another_way_is_stopped_before_its_tasks(spent):
    from costs.models import BudgetAlert
    from workflows import runner
    from workflows.models import Run

    run = runner.create_run(spent, trigger="cli", enqueue=False)
    runner.execute(run.pk)
    run = Run.objects.get(pk=run.pk)
    assert run.status == "failed" and run.message.startswith("refused: the workflow 'thrifty' budget $1")
    assert not run.tasks.filter(attempts__gt=0).exists()
    assert BudgetAlert.objects.filter(run=run, level="refused").exists()
