"""Never a silent zero on the costs page: wherever an amount shows, attempts that could not be priced
are marked ("$0.0123 + 3 unpriced", or "unpriced" when nothing was), and all-unpriced rows stay."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.costs.conftest import add_record, queued_run

ETL = "name: etl\ntags: {team: data}\ntasks:\n  a: {run: 'true'}\n"
GHOST = "name: ghost\ntags: {team: ml}\ntasks:\n  a: {run: 'true'}\n"


def costs_page(client_as) -> str:
    response = client_as("viewer").get("/costs/")
    assert response.status_code == 200
    return response.content.decode()


def chart(page: str, label: str) -> str:
    found = re.search(rf'<svg class="chart [^"]*"[^>]*aria-label="{label}">.*?</svg>', page, re.S)
    assert found, f"no chart '{label}' on the page"
    return found.group(0)


def row(page: str, table_id: str, containing: str) -> str:
    """The table row that contains `containing`, as plain text (tags removed), and whether it is marked."""
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', page, re.S).group(0)
    rows = [r for r in re.split(r"<tr[ >]", table) if containing in r]
    assert rows, f"no row with {containing!r} in #{table_id}"
    return rows[0]


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_workflow_with_nothing_priced_keeps_its_bar_marked_unpriced(client_as):
    add_record(queued_run(ETL), 0.42)
    ghost = queued_run(GHOST)
    add_record(ghost, 0.0, status="unpriced")
    add_record(ghost, 0.0, attempt=2, status="unpriced")
    page = costs_page(client_as)

    by_workflow = chart(page, "Cost by workflow")
    assert '<g class="bar unpriced"><title>ghost: unpriced (2 attempts)</title>' in by_workflow
    assert '<tspan class="unpriced">unpriced</tspan>' in by_workflow
    assert "<title>ml: unpriced (2 attempts)</title>" in chart(page, "Cost by team")
    task = row(page, "top-tasks", ">ghost</a>")
    assert "$0" not in task and task.count('class="cost-unpriced"') == 2  # retries and cost
    assert text(task).endswith("1 2 unpriced unpriced")


def test_a_day_with_unpriced_attempts_is_marked_on_its_column(client_as):
    from costs.budgets import today

    day, before = today(), today() - timedelta(days=1)
    run = queued_run(ETL)
    add_record(run, 0.25, day=before)
    add_record(run, 0.0, day=before, attempt=2, status="unpriced")
    add_record(run, 0.0, day=day, attempt=3, status="unpriced")
    page = costs_page(client_as)

    by_day = chart(page, "Cost per day")
    assert f"<title>{before}: $0.2500 + 1 unpriced</title>" in by_day
    assert f"<title>{day}: unpriced (1 attempt)</title>" in by_day
    assert by_day.count('<circle class="unpriced"') == 2
    assert "2 days with unpriced attempts" in page


def test_a_trend_row_marks_runs_with_unpriced_attempts(client_as):
    for _ in range(2):
        add_record(queued_run(GHOST), 0.0, status="unpriced")
    etl = queued_run(ETL)
    add_record(etl, 0.5)
    etl = queued_run(ETL)
    add_record(etl, 0.5)
    add_record(etl, 0.0, attempt=2, status="unpriced")
    page = costs_page(client_as)

    ghost = row(page, "trends", ">ghost</a>")
    assert "last run #2: unpriced · what-if" in text(ghost) and 'class="cost-unpriced"' in ghost
    assert "<title>run #1: unpriced (1 attempt)</title>" in ghost and 'class="dot unpriced"' in ghost
    assert '<path d=""' in ghost  # no line drawn through unknown amounts as if they were $0
    etl_row = row(page, "trends", ">etl</a>")
    assert "last run #2: $0.5000 + 1 unpriced · what-if" in text(etl_row)
    assert "<title>run #2: $0.5000 + 1 unpriced</title>" in etl_row


def test_a_run_with_nothing_priced_does_not_pull_the_trend_down(client_as):
    # As $0 it would halve the median of the runs before, and the 1.1 run would look like a regression.
    for amount, status in [(1.0, "priced"), (1.0, "priced"), (0.0, "unpriced"), (0.0, "unpriced"), (1.1, "priced")]:
        add_record(queued_run(ETL), amount, status=status)
    assert "regression" not in text(row(costs_page(client_as), "trends", ">etl</a>"))


def test_the_totals_and_budgets_mark_their_unpriced_attempts(client_as):
    from costs.models import Budget

    run = queued_run(ETL)
    add_record(run, 0.42)
    add_record(run, 0.0, attempt=2, status="unpriced")
    Budget.objects.create(scope=Budget.WORKFLOW, workflow_id=run.workflow_id, period=Budget.DAY, limit=1.0)
    page = costs_page(client_as)

    total = re.search(r'id="total-cost">(.*?)</div>', page).group(1)
    assert text(total) == "$0.4200 + 1 unpriced" and 'class="cost-unpriced"' in total
    assert text(re.search(r'id="retries-cost">(.*?)</div>', page).group(1)) == "unpriced"
    assert "$0.4200 + 1 unpriced (42%)" in text(row(page, "budget-table", "workflow &#x27;etl&#x27;"))


def test_an_amount_says_how_many_attempts_it_leaves_out():
    from costs.templatetags.costs_tags import cost_text

    assert cost_text(0.0123, 3, 10) == "$0.0123 + 3 unpriced"
    assert cost_text(0.0, 2, 2) == "unpriced"
    assert cost_text(0.0, 2) == "unpriced"
    assert cost_text(0.0, 2, 5) == "$0 + 2 unpriced"  # some attempts were priced at $0
    assert cost_text(None) == "$0" and cost_text(0.5, 0, 4) == "$0.5000"


def test_bars_left_out_of_a_full_chart_are_counted():
    from costs.charts import bars

    rows = [{"key": f"w{i}", "total": 20.0 - i, "unpriced": 0, "records": 1} for i in range(13)]
    rows += [{"key": "ghost", "total": 0.0, "unpriced": 1, "records": 1}]
    assert "+ 2 more not shown, 1 of them with unpriced attempts" in bars(rows, limit=12)
