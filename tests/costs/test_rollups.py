"""Roll-ups by workflow, tag and day come from the database, and agree with the records."""

from __future__ import annotations

from datetime import date

import pytest

from tests.costs.conftest import add_record, queued_run

D1, D2 = date(2026, 3, 1), date(2026, 3, 2)


@pytest.fixture
def costs(db):
    etl = queued_run("name: etl\ntags: {team: data}\ntasks:\n  a: {run: 'true'}\n")
    web = queued_run("name: web\ntags: {team: front}\ntasks:\n  a: {run: 'true'}\n")
    add_record(etl, 1.0, day=D1)
    add_record(etl, 0.5, day=D1, attempt=2)
    add_record(web, 0.25, day=D2)
    add_record(web, 0.0, day=D2, attempt=2, status="unpriced")
    return etl, web


def rows(result, key="key"):
    return {str(r[key]): (pytest.approx(r["total"]), r["records"]) for r in result}


def test_totals_by_workflow_tag_and_day(costs):
    from costs import records

    assert rows(records.by_workflow()) == {"etl": (1.5, 2), "web": (0.25, 2)}
    assert rows(records.by_tag("team")) == {"data": (1.5, 2), "front": (0.25, 2)}
    assert rows(records.by_day()) == {"2026-03-01": (1.5, 2), "2026-03-02": (0.25, 2)}
    assert records.by_workflow(since=D2) == [pytest.approx({**records.by_workflow(since=D2)[0], "total": 0.25})]
    assert records.totals()["retries"] == pytest.approx(0.5)
    assert records.totals()["unpriced"] == 1


def test_the_kept_day_totals_equal_a_rebuild_from_the_records(costs):
    from costs import records

    before = sorted(records.by_workflow_and_day(), key=lambda r: (r["day"], r["workflow_id"]))
    assert records.rebuild_days() == 2
    assert sorted(records.by_workflow_and_day(), key=lambda r: (r["day"], r["workflow_id"])) == before


def test_the_api_gives_roll_ups_and_rejects_a_bad_grouping(costs, client_as):
    client = client_as("viewer")
    by_tag = client.get("/api/costs/rollups/?by=tag&tag=team").json()
    assert {r["key"]: r["total"] for r in by_tag} == {"data": pytest.approx(1.5), "front": pytest.approx(0.25)}
    assert client.get("/api/costs/rollups/?by=tag").status_code == 400
    assert client.get("/api/costs/rollups/?by=tag&tag=a__b").status_code == 400
    assert client.get("/api/costs/rollups/?by=color").json()["detail"].startswith("by: one of")
    tasks = client.get("/api/costs/rollups/?by=task").json()
    assert tasks[0] == {"key": "etl.a", "total": pytest.approx(1.5), "retries": pytest.approx(0.5), "records": 2,
                        "unpriced": 0}  # fmt: skip


def test_the_csv_export_lists_every_record_in_the_period(costs, client_as):
    response = client_as("viewer").get("/costs/export.csv?since=2026-03-01&until=2026-03-01")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("day,workflow,run,node,task,attempt,retry")
    assert [line.split(",")[1] for line in lines[1:]] == ["etl", "etl"]
    assert client_as("viewer").get("/costs/export.csv?since=nope").status_code == 400
