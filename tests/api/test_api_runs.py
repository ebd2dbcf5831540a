"""Runs over the API: filtered cursor-paged list, detail with tasks, cancel and re-run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.factories import add_run, add_workflow
from tests.conftest import wait_for_run
from workflows.api_runs import RunViewSet
from workflows.models import Run, TaskRun

SIMPLE = "name: simple\ntasks:\n  a: {run: 'true'}\n"


def post(client, url, body=None):
    return client.post(url, body or {}, content_type="application/json")


def test_list_is_newest_first_with_summary_fields(client_as, users):
    workflow = add_workflow()
    older = add_run(workflow, Run.SUCCESS, user=users["operator"], trigger="api")
    newer = add_run(workflow, Run.RUNNING)
    response = client_as("viewer").get("/api/runs/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["id"] for r in rows] == [newer.pk, older.pk]
    assert rows[1]["workflow_name"] == "etl" and rows[1]["number"] == 1
    assert (rows[1]["status"], rows[1]["trigger"], rows[1]["triggered_by"]) == ("success", "api", "operator")
    assert rows[1]["duration"] == pytest.approx(5, abs=1)
    assert rows[0]["triggered_by"] is None and rows[0]["finished_at"] is None


def test_filter_by_workflow_id_or_name(client_as):
    etl, simple = add_workflow(), add_workflow(SIMPLE)
    mine = add_run(simple)
    add_run(etl)
    client = client_as("viewer")
    by_id = client.get(f"/api/runs/?workflow={simple.pk}").json()["results"]
    by_name = client.get("/api/runs/?workflow=simple").json()["results"]
    unknown = client.get("/api/runs/?workflow=nope").json()["results"]
    assert [r["id"] for r in by_id] == [r["id"] for r in by_name] == [mine.pk]
    assert unknown == []


def test_filter_by_status(client_as):
    workflow = add_workflow()
    failed, _ok = add_run(workflow, Run.FAILED), add_run(workflow, Run.SUCCESS)
    response = client_as("viewer").get("/api/runs/?status=failed")
    assert [r["id"] for r in response.json()["results"]] == [failed.pk]


def test_an_unknown_status_is_400_naming_the_parameter(client_as):
    response = client_as("viewer").get("/api/runs/?status=failed,cancelled")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("status: unknown status 'failed,cancelled'")


def test_filter_by_creation_dates(client_as):
    workflow = add_workflow()
    jan = add_run(workflow, created_at=datetime(2025, 1, 15, 12, tzinfo=UTC))
    feb = add_run(workflow, created_at=datetime(2025, 2, 15, 12, tzinfo=UTC))
    add_run(workflow, created_at=datetime(2025, 3, 15, 12, tzinfo=UTC))
    client = client_as("viewer")
    window = client.get("/api/runs/?created_after=2025-01-15T12:00:00Z&created_before=2025-03-01").json()["results"]
    assert [r["id"] for r in window] == [feb.pk, jan.pk]
    # An unencoded "+01:00" arrives as " 01:00"; it still means an offset.
    offset = client.get("/api/runs/?created_before=2025-01-15T13:00:01+01:00").json()["results"]
    assert [r["id"] for r in offset] == [jan.pk]


@pytest.mark.parametrize("param", ["created_after", "created_before"])
def test_a_bad_date_is_400_naming_the_parameter(client_as, param):
    response = client_as("viewer").get(f"/api/runs/?{param}=2025-13-01")
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"{param}: must be an ISO date")


def test_cursor_pages_cover_every_run_once_even_with_equal_times(client_as):
    workflow = add_workflow()
    same = datetime(2025, 5, 1, tzinfo=UTC)
    made = [add_run(workflow, created_at=same if n % 2 else same + timedelta(seconds=n)).pk for n in range(7)]
    client = client_as("viewer")
    seen, url = [], "/api/runs/?limit=2"
    while url:
        page = client.get(url).json()
        assert "count" not in page
        seen += [r["id"] for r in page["results"]]
        url = page["next"]
    assert sorted(seen) == sorted(made) and len(seen) == len(made)


def test_listing_never_counts_and_takes_a_fixed_number_of_queries(client_as, users):
    workflow = add_workflow()
    client = client_as("viewer")
    add_run(workflow, user=users["admin"])
    client.get("/api/runs/")  # warm the session and permission caches
    with CaptureQueriesContext(connection) as one:
        client.get("/api/runs/")
    for _ in range(5):
        add_run(workflow, user=users["admin"])
    with CaptureQueriesContext(connection) as six:
        response = client.get("/api/runs/?status=queued")
    assert len(response.json()["results"]) == 6
    assert len(six) == len(one)
    assert not [q["sql"] for q in six.captured_queries if "COUNT(" in q["sql"].upper()]


@pytest.mark.skipif(not settings.IS_SQLITE, reason="reads SQLite's query plan")
@pytest.mark.parametrize(
    "query", ["", "?status=failed", "?workflow=1", "?workflow=1&status=failed", "?created_after=2025-01-01"]
)
def test_the_run_list_reads_an_index_in_order_without_sorting(rf, db, query):
    from rest_framework.request import Request

    request = Request(rf.get("/api/runs/" + query))
    runs = RunViewSet.filter_runs(Run.objects.all(), request).order_by("-created_at", "-id")[:51]
    sql, params = runs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = " | ".join(str(row[-1]) for row in cursor.fetchall())
    assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, plan
    assert "TEMP B-TREE FOR ORDER BY" not in plan, plan


def test_detail_has_tasks_and_counts(client_as):
    run = add_run(add_workflow(), Run.FAILED, tasks={"extract": "failed", "load": "upstream_failed"})
    TaskRun.objects.filter(run=run, node_id="extract").update(exit_code=2, reason="exit code 2", wall_s=1.5)
    response = client_as("viewer").get(f"/api/runs/{run.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["counts"] == {"failed": 1, "upstream_failed": 1}
    assert body["workflow_version"] == 1 and body["params"] == {"day": "today", "mode": "full"}
    extract = body["tasks"][0]
    assert (extract["node_id"], extract["exit_code"], extract["reason"], extract["wall_s"]) == (
        "extract",
        2,
        "exit code 2",
        1.5,
    )
    assert set(extract) >= {"task_id", "leg", "attempts", "outputs", "started_at", "cpu_s", "peak_rss_bytes", "reused"}


def test_cancelling_a_queued_run_ends_it_at_once(client_as):
    run = add_run(add_workflow())
    response = post(client_as("operator"), f"/api/runs/{run.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    run.refresh_from_db()
    assert run.status == Run.CANCELLED and run.message == "cancelled by operator"
    assert set(run.tasks.values_list("status", flat=True)) == {"cancelled"}


def test_cancelling_a_running_run_asks_its_worker(client_as):
    run = add_run(add_workflow(), Run.RUNNING)
    response = post(client_as("operator"), f"/api/runs/{run.pk}/cancel/")
    assert response.status_code == 202
    assert response.json()["cancel_requested"] is True
    run.refresh_from_db()
    assert run.cancel_requested and run.status == Run.RUNNING


def test_cancelling_an_ended_run_is_409(client_as):
    run = add_run(add_workflow(), Run.SUCCESS)
    response = post(client_as("operator"), f"/api/runs/{run.pk}/cancel/")
    assert response.status_code == 409
    assert response.json()["detail"] == "run #1 of 'etl' already ended (success)"
    run.refresh_from_db()
    assert not run.cancel_requested


def test_rerun_failed_only_reuses_what_succeeded(client_as, users):
    run = add_run(add_workflow(), Run.FAILED, tasks={"extract": "success", "load": "failed"})
    response = post(client_as("operator"), f"/api/runs/{run.pk}/rerun/", {"failed_only": True})
    assert response.status_code == 201
    new = Run.objects.get(pk=response.json()["id"])
    assert (new.rerun_of, new.trigger, new.triggered_by, new.number) == (run, "rerun", users["operator"], 2)
    tasks = {t.node_id: (t.status, t.reused) for t in new.tasks.all()}
    assert tasks == {"extract": ("success", True), "load": ("pending", False)}


def test_rerun_of_everything_reuses_nothing(client_as):
    run = add_run(add_workflow(), Run.SUCCESS, tasks={"extract": "success", "load": "success"})
    response = post(client_as("operator"), f"/api/runs/{run.pk}/rerun/", {"failed_only": False})
    assert response.status_code == 201
    assert not Run.objects.get(pk=response.json()["id"]).tasks.filter(reused=True).exists()


def test_rerun_failed_only_of_a_successful_run_is_409(client_as):
    run = add_run(add_workflow(), Run.SUCCESS, tasks={"extract": "success", "load": "success"})
    response = post(client_as("operator"), f"/api/runs/{run.pk}/rerun/", {"failed_only": True})
    assert response.status_code == 409
    assert response.json()["detail"].startswith("nothing failed")
    assert Run.objects.count() == 1


def test_rerun_of_a_run_still_going_is_409(client_as):
    run = add_run(add_workflow(), Run.RUNNING)
    response = post(client_as("operator"), f"/api/runs/{run.pk}/rerun/")
    assert response.status_code == 409
    assert "still running" in response.json()["detail"]
    assert Run.objects.count() == 1


@pytest.mark.integration
def test_a_run_triggered_over_the_api_runs_and_its_log_is_readable(consumer, api_as):
    workflow = add_workflow("name: hello\ntasks:\n  greet: {run: 'echo hello; echo world >&2'}\n")
    response = api_as("operator").post(f"/api/workflows/{workflow.pk}/runs/", {}, format="json")
    assert response.status_code == 201
    run = wait_for_run(response.json()["id"])
    detail = api_as("viewer").get(f"/api/runs/{run.pk}/").json()
    assert detail["status"] == "success" and detail["counts"] == {"success": 1}
    task_id = detail["tasks"][0]["id"]
    log = api_as("viewer").get(f"/api/taskruns/{task_id}/logs/").json()
    assert sorted((line["stream"], line["text"]) for line in log["lines"]) == [("stderr", "world"), ("stdout", "hello")]
    assert log["attempt"] == 1 and log["next_after"] is None
