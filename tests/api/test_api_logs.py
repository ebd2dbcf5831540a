"""Task runs and their logs: attempts, keyset paging with `after`, tailing, and the limits."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.factories import add_attempt, add_lines, add_run, add_workflow
from workflows.models import LogLine, Run, TaskRun


@pytest.fixture
def task(db) -> TaskRun:
    """The 'extract' task of a finished run: attempt 1 failed, attempt 2 succeeded."""
    run = add_run(add_workflow(), Run.SUCCESS, tasks={"extract": "success", "load": "success"})
    task = run.tasks.get(node_id="extract")
    add_attempt(task, 1, "failed", exit_code=1, error="", retry_delay=1.0, cpu_user_s=0.2, cpu_sys_s=0.1)
    add_attempt(task, 2, "success", exit_code=0, wall_s=0.5, peak_rss_bytes=1024)
    add_lines(task, 1, 3)
    add_lines(task, 2, 12)
    return task


def running(task: TaskRun) -> TaskRun:
    TaskRun.objects.filter(pk=task.pk).update(status=TaskRun.RUNNING)
    task.refresh_from_db()
    return task


def texts(body):
    return [line["text"] for line in body["lines"]]


def test_detail_lists_the_attempts(client_as, task):
    response = client_as("viewer").get(f"/api/taskruns/{task.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert (body["node_id"], body["workflow_name"], body["run_number"]) == ("extract", "etl", 1)
    first, second = body["attempts"]
    assert (first["number"], first["status"], first["exit_code"], first["retry_delay"]) == (1, "failed", 1, 1.0)
    assert (first["cpu_user_s"], first["cpu_sys_s"]) == (0.2, 0.1)
    assert (second["number"], second["wall_s"], second["peak_rss_bytes"]) == (2, 0.5, 1024)


def test_logs_default_to_the_latest_attempt(client_as, task):
    response = client_as("viewer").get(f"/api/taskruns/{task.pk}/logs/")
    assert response.status_code == 200
    body = response.json()
    assert body["attempt"] == 2
    assert texts(body) == [f"attempt 2 line {n}" for n in range(1, 13)]
    assert body["lines"][0] == {"lineno": 1, "stream": "stdout", "ts": 1e9 + 1, "text": "attempt 2 line 1"}
    assert body["next_after"] is None


def test_logs_of_an_earlier_attempt(client_as, task):
    body = client_as("viewer").get(f"/api/taskruns/{task.pk}/logs/?attempt=1").json()
    assert body["attempt"] == 1
    assert texts(body) == ["attempt 1 line 1", "attempt 1 line 2", "attempt 1 line 3"]


def test_logs_page_with_after_and_limit(client_as, task):
    client = client_as("viewer")
    first = client.get(f"/api/taskruns/{task.pk}/logs/?limit=5").json()
    second = client.get(f"/api/taskruns/{task.pk}/logs/?limit=5&after={first['next_after']}").json()
    assert [line["lineno"] for line in first["lines"]] == [1, 2, 3, 4, 5] and first["next_after"] == 5
    assert [line["lineno"] for line in second["lines"]] == [6, 7, 8, 9, 10] and second["next_after"] == 10


def test_the_last_page_of_an_ended_task_has_no_next(client_as, task):
    body = client_as("viewer").get(f"/api/taskruns/{task.pk}/logs/?after=10&limit=5").json()
    assert [line["lineno"] for line in body["lines"]] == [11, 12]
    assert body["next_after"] is None


def test_a_running_task_keeps_a_cursor_to_follow_with(client_as, task):
    running(task)
    client = client_as("viewer")
    caught_up = client.get(f"/api/taskruns/{task.pk}/logs/?after=10").json()
    assert caught_up["next_after"] == 12
    quiet = client.get(f"/api/taskruns/{task.pk}/logs/?after=12").json()
    assert (quiet["lines"], quiet["next_after"]) == ([], 12)


def test_logs_read_by_key_never_by_offset(client_as, task):
    with CaptureQueriesContext(connection) as queries:
        client_as("viewer").get(f"/api/taskruns/{task.pk}/logs/?after=4&limit=3")
    sql = [q["sql"] for q in queries.captured_queries if "workflows_logline" in q["sql"]]
    assert len(sql) == 1
    assert '"lineno" > 4' in sql[0] and "OFFSET" not in sql[0].upper()


def test_limit_is_capped_at_5000(client_as, task):
    add_lines(task, 3, 5001)
    TaskRun.objects.filter(pk=task.pk).update(attempts=3)
    body = client_as("viewer").get(f"/api/taskruns/{task.pk}/logs/?limit=100000").json()
    assert len(body["lines"]) == 5000
    assert body["next_after"] == 5000


@pytest.mark.parametrize(
    "query, param",
    [
        ("attempt=two", "attempt"),
        ("after=1.5", "after"),
        ("limit=0", "limit"),
        ("attempt=0", "attempt"),
        ("after=-1", "after"),
    ],
)
def test_bad_numbers_are_400_naming_the_parameter(client_as, task, query, param):
    response = client_as("viewer").get(f"/api/taskruns/{task.pk}/logs/?{query}")
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"{param}: ")


def test_an_attempt_that_never_happened_is_404(client_as, task):
    response = client_as("viewer").get(f"/api/taskruns/{task.pk}/logs/?attempt=3")
    assert response.status_code == 404
    assert response.json()["detail"] == f"task run {task.pk} has no attempt 3 (the latest is 2)"


def test_a_task_that_never_started_has_an_empty_log(client_as, task):
    waiting = TaskRun.objects.get(run=task.run, node_id="load")
    TaskRun.objects.filter(pk=waiting.pk).update(status=TaskRun.PENDING, attempts=0)
    body = client_as("viewer").get(f"/api/taskruns/{waiting.pk}/logs/").json()
    assert body == {"attempt": 1, "lines": [], "next_after": 0}


def test_tail_returns_the_last_lines_in_order(client_as, task):
    response = client_as("viewer").get(f"/api/taskruns/{task.pk}/logs/tail/?lines=3")
    assert response.status_code == 200
    body = response.json()
    assert [line["lineno"] for line in body["lines"]] == [10, 11, 12]
    assert body["attempt"] == 2 and body["next_after"] is None


def test_tail_of_a_running_task_gives_the_cursor_to_follow(client_as, task):
    running(task)
    body = client_as("viewer").get(f"/api/taskruns/{task.pk}/logs/tail/?attempt=2&lines=100").json()
    assert len(body["lines"]) == 12 and body["next_after"] == 12


def test_tail_shows_each_stream_by_name(client_as, task):
    LogLine.objects.create(run=task.run, taskrun=task, attempt=2, lineno=13, stream="e", ts=1.0, text="oops")
    LogLine.objects.create(run=task.run, taskrun=task, attempt=2, lineno=14, stream="s", ts=2.0, text="retrying")
    body = client_as("viewer").get(f"/api/taskruns/{task.pk}/logs/tail/?lines=3").json()
    assert [line["stream"] for line in body["lines"]] == ["stdout", "stderr", "system"]


def test_tail_rejects_a_bad_count(client_as, task):
    response = client_as("viewer").get(f"/api/taskruns/{task.pk}/logs/tail/?lines=lots")
    assert response.status_code == 400
    assert response.json()["detail"] == "lines: must be an integer, not 'lots'"
