"""The costs page: charts, stale-price warning, budgets (admins add them), and the run page's cost card."""

from __future__ import annotations

from tests.costs.conftest import add_record, queued_run


def test_the_costs_page_shows_charts_and_warns_about_old_prices(client_as):
    run = queued_run("name: etl\ntags: {team: data}\ntasks:\n  a: {run: 'true'}\n")
    add_record(run, 0.42)
    page = client_as("viewer").get("/costs/").content.decode()
    assert "Prices in use are older than 12 months" in page and "2020-06-30" in page
    assert 'class="chart bars"' in page and 'class="chart columns"' in page
    assert "$0.4200" in page and "etl" in page
    assert 'id="export-csv"' in page


def test_unpriced_is_never_shown_as_free(client_as):
    run = queued_run("name: etl\ntasks:\n  a: {run: 'true'}\n")
    add_record(run, 0.0, status="unpriced")
    page = client_as("viewer").get("/costs/").content.decode()
    assert '<span class="cost-unpriced" title="1 attempt, none priced">unpriced</span>' in page


def test_only_admins_add_budgets(client_as):
    from costs.models import Budget

    run = queued_run("name: etl\ntasks:\n  a: {run: 'true'}\n")
    form = {"scope": "workflow", "workflow": run.workflow_id, "period": "day", "limit": "2.5", "warn_at": "0.8"}
    assert client_as("viewer").post("/costs/budgets/", form).status_code == 403
    client_as("admin").post("/costs/budgets/", form)
    assert Budget.objects.get().limit == 2.5
    page = client_as("viewer").get("/costs/").content.decode()
    assert "workflow &#x27;etl&#x27;, per day (UTC)" in page


def test_the_budget_api_validates_and_reports_spending(client_as):
    run = queued_run("name: etl\ntasks:\n  a: {run: 'true'}\n")
    add_record(run, 0.9)
    admin = client_as("admin")
    assert admin.post("/api/costs/budgets/", {"scope": "workflow", "period": "day", "limit": 1}).status_code == 400
    made = admin.post("/api/costs/budgets/", {"scope": "workflow", "workflow": run.workflow_id, "period": "day",
                                              "limit": 1, "warn_at": 0.8}).json()  # fmt: skip
    assert made["spent"] == 0.9 and made["state"] == "warning"


def test_the_run_page_has_the_cost_card(client_as):
    run = queued_run(
        "name: etl\ncost: {provider: gcp, region: us-central1, instance_type: n2-standard-2}\ntasks:\n  a: {run: 'true'}\n"
    )
    page = client_as("viewer").get(f"/runs/{run.pk}/").content.decode()
    assert 'id="cost-card"' in page and "gcp us-central1 n2-standard-2" in page
    assert "js/costs_run.js" in page


def test_the_run_cost_card_marks_unpriced_attempts_in_its_total(client_as):
    run = queued_run(
        "name: etl\ncost: {provider: gcp, region: us-central1, instance_type: n2-standard-2}\ntasks:\n  a: {run: 'true'}\n"
    )
    add_record(run, 0.1)
    add_record(run, 0.0, attempt=2, status="unpriced")
    page = client_as("viewer").get(f"/runs/{run.pk}/").content.decode()
    for element in ("run-cost-total", "cost-foot-total"):
        assert f'id="{element}"' in page
        assert (
            page.split(f'id="{element}"', 1)[1]
            .split("</span>", 1)[0]
            .endswith(
                '>$0.1000 <span class="cost-unpriced" title="1 attempt with an unpriced part: the amount is only what '
                'was priced">+ 1 unpriced'
            )
        )
