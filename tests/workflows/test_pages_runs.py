"""Run pages: the filtered, keyset-paginated list, the run page with its actions, cancel and
re-run, and the overview's figures."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.api.factories import add_run
from tests.conftest import make_workflow
from workflows.models import Run, TaskRun, Workflow

ETL = """name: etl
tasks:
  extract: {run: "echo extract"}
  transform: {run: "echo ${{ matrix.format }}", needs: [extract], matrix: {format: [csv, json]}}
  load: {run: "echo load", needs: ["transform[*]"]}
"""
NODES = ["extract", "transform[format=csv]", "transform[format=json]", "load"]
OTHER = "name: other\ntasks:\n  a: {run: 'true'}\n"
RUNS = reverse("run-list")


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def etl(db) -> Workflow:
    return make_workflow(ETL)


def run_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr data-run="(\d+)"', html)]


def older_link(html: str) -> str | None:
    match = re.search(r'<a class="button" href="([^"]+)">Older →</a>', html)
    return RUNS + unescape(match.group(1)) if match else None


def walk_pages(client, url: str) -> tuple[list[int], int]:
    """Follow 'Older →' from `url` to the last page: every run id shown, and the number of pages."""
    seen: list[int] = []
    pages = 0
    next_url: str | None = url
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200
        html = response.content.decode()
        seen += run_ids(html)
        pages += 1
        next_url = older_link(html)
    return seen, pages


def on_day(day: str, hour: int = 12) -> datetime:
    return timezone.make_aware(datetime.fromisoformat(f"{day}T{hour:02}:00:00"))


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# ------------------------------------------------------------------ the run list


def test_the_list_filters_by_workflow_id_or_name(client_as, etl):
    other = make_workflow(OTHER)
    mine = [add_run(etl).pk, add_run(etl).pk]
    theirs = add_run(other).pk
    client = client_as("viewer")

    by_id = run_ids(client.get(RUNS, {"workflow": etl.pk}).content.decode())
    by_name = run_ids(client.get(RUNS, {"workflow": "other"}).content.decode())
    everything = run_ids(client.get(RUNS).content.decode())

    assert by_id == mine[::-1]
    assert by_name == [theirs]
    assert everything == [theirs, *mine[::-1]]


def test_the_list_filters_by_status(client_as, etl):
    failed = add_run(etl, Run.FAILED).pk
    add_run(etl, Run.SUCCESS)
    add_run(etl, Run.RUNNING)

    html = client_as("viewer").get(RUNS, {"status": "failed"}).content.decode()

    assert run_ids(html) == [failed]
    assert "<option selected>failed</option>" in html


def test_the_list_filters_by_days_including_the_last_one(client_as, etl):
    runs = {day: add_run(etl, created_at=on_day(day)).pk for day in ("2024-03-01", "2024-03-02", "2024-03-03")}
    late_on_the_last_day = add_run(etl, created_at=on_day("2024-03-03", hour=23)).pk
    add_run(etl, created_at=on_day("2024-03-04", hour=0))

    html = client_as("viewer").get(RUNS, {"since": "2024-03-02", "until": "2024-03-03"}).content.decode()

    assert run_ids(html) == [late_on_the_last_day, runs["2024-03-03"], runs["2024-03-02"]]


@pytest.mark.parametrize("value", ["yesterday", "2024-02-30", "2024-13-01", "2024-02-30T10:00", "9999-12-31"])
def test_a_bad_date_shows_a_message_and_the_unfiltered_list(client_as, etl, value):
    run = add_run(etl).pk

    response = client_as("viewer").get(RUNS, {"until": value})

    assert response.status_code == 200
    html = response.content.decode()
    assert f"&#x27;{value}&#x27; is not a date" in html
    assert run_ids(html) == [run]


def test_a_mangled_page_link_shows_a_message(client_as, etl):
    run = add_run(etl).pk

    response = client_as("viewer").get(RUNS, {"before": "not-a-cursor"})

    assert response.status_code == 200
    assert "bad page link" in response.content.decode()
    assert run_ids(response.content.decode()) == [run]


def make_many_runs(workflow: Workflow, count: int, status: str = Run.SUCCESS) -> list[int]:
    """`count` runs whose created_at come in groups of 7 equal stamps: the cursor must break ties."""
    start = timezone.now() - timedelta(days=1)
    ids = []
    for n in range(count):
        ids.append(add_run(workflow, status, created_at=start + timedelta(seconds=n // 7)).pk)
    return ids


def newest_first(ids: list[int]) -> list[int]:
    stamps = dict(Run.objects.filter(pk__in=ids).values_list("pk", "created_at"))
    return sorted(ids, key=lambda pk: (stamps[pk], pk), reverse=True)


def test_older_links_walk_every_run_once(client_as, etl):
    ids = make_many_runs(etl, 120)

    seen, pages = walk_pages(client_as("viewer"), RUNS)

    assert pages == 3
    assert seen == newest_first(ids)


def test_older_links_keep_the_filters(client_as, etl):
    failed = make_many_runs(etl, 60, Run.FAILED)
    make_many_runs(etl, 30, Run.SUCCESS)

    seen, pages = walk_pages(client_as("viewer"), f"{RUNS}?status=failed&workflow=etl")

    assert pages == 2
    assert seen == newest_first(failed)


def test_a_later_page_links_back_to_the_newest(client_as, etl):
    make_many_runs(etl, 55)
    client = client_as("viewer")

    html = client.get(older_link(client.get(RUNS, {"status": "success"}).content.decode())).content.decode()

    assert len(run_ids(html)) == 5
    assert '<a class="button" href="?status=success">← Newest</a>' in html
    assert older_link(html) is None


def test_the_first_page_costs_the_same_queries_however_many_runs(client_as, etl, django_assert_max_num_queries):
    other = make_workflow(OTHER)
    add_run(etl)
    add_run(other, Run.SUCCESS)
    client = client_as("viewer")
    with CaptureQueriesContext(connection) as few_runs:
        client.get(RUNS)
    make_many_runs(etl, 60)
    make_many_runs(other, 60, Run.FAILED)

    with django_assert_max_num_queries(len(few_runs)):
        response = client.get(RUNS)

    assert len(run_ids(response.content.decode())) == 50


# ------------------------------------------------------------------ the run page


def test_the_run_page_shows_the_dag_tasks_and_counts(client_as, etl):
    run = add_run(etl, Run.FAILED, tasks={"extract": "success", "transform[format=csv]": "failed"})
    TaskRun.objects.filter(run=run, status=TaskRun.PENDING).update(status=TaskRun.UPSTREAM_FAILED)

    response = client_as("viewer").get(run.get_absolute_url())

    assert response.status_code == 200
    html = response.content.decode()
    nodes = {node: status for status, node in re.findall(r'<g class="node status-([\w-]+)" data-node="([^"]+)"', html)}
    assert nodes == {
        "extract": "success",
        "transform[format=csv]": "failed",
        "transform[format=json]": "upstream_failed",
        "load": "upstream_failed",
    }
    assert re.findall(r'<tr data-node="([^"]+)"', html) == NODES
    counts = re.findall(r'<span class="badge status-(\w+)">(\d+) \1</span>', html)
    assert counts == [("failed", "1"), ("success", "1"), ("upstream_failed", "2")]


def test_an_operator_may_cancel_an_unfinished_run(client_as, etl):
    run = add_run(etl, Run.RUNNING)

    html = client_as("operator").get(run.get_absolute_url()).content.decode()

    assert 'id="cancel-form"' in html
    assert 'id="rerun-all-form" hidden' in html  # not until it has ended


def test_a_viewer_sees_no_actions(client_as, etl):
    running = add_run(etl, Run.RUNNING)
    failed = add_run(etl, Run.FAILED, tasks={"extract": "failed"})
    client = client_as("viewer")

    for run in (running, failed):
        html = client.get(run.get_absolute_url()).content.decode()
        assert "cancel-form" not in html and "rerun-" not in html


def test_an_ended_run_offers_re_runs_and_no_cancel(client_as, etl):
    failed = add_run(etl, Run.FAILED, tasks={"extract": "failed"})
    succeeded = add_run(etl, Run.SUCCESS, tasks=dict.fromkeys(NODES, "success"))
    client = client_as("operator")

    failed_html = client.get(failed.get_absolute_url()).content.decode()
    success_html = client.get(succeeded.get_absolute_url()).content.decode()

    assert "cancel-form" not in failed_html and "cancel-form" not in success_html
    assert 'id="rerun-failed-form">' in failed_html and 'id="rerun-all-form">' in failed_html
    assert 'id="rerun-failed-form" hidden' in success_html and 'id="rerun-all-form">' in success_html


# ------------------------------------------------------------------ cancel


def test_cancel_answers_only_post(client_as, etl):
    run = add_run(etl)

    response = client_as("operator").get(reverse("run-cancel", args=[run.pk]))

    assert response.status_code == 405
    assert Run.objects.get(pk=run.pk).status == Run.QUEUED


def test_a_viewer_may_not_cancel(client_as, etl):
    run = add_run(etl)

    response = client_as("viewer").post(reverse("run-cancel", args=[run.pk]))

    assert response.status_code == 403
    assert Run.objects.get(pk=run.pk).status == Run.QUEUED


def test_cancelling_a_queued_run_ends_it_and_its_tasks(client_as, etl):
    run = add_run(etl)

    response = client_as("operator").post(reverse("run-cancel", args=[run.pk]))

    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    run.refresh_from_db()
    assert run.status == Run.CANCELLED and run.message == "cancelled by operator" and run.finished_at
    assert set(run.tasks.values_list("status", flat=True)) == {TaskRun.CANCELLED}


def test_cancelling_a_running_run_asks_its_worker_to_stop(client_as, etl):
    run = add_run(etl, Run.RUNNING)

    client_as("operator").post(reverse("run-cancel", args=[run.pk]))

    run.refresh_from_db()
    assert run.cancel_requested and run.status == Run.RUNNING


def test_cancelling_an_ended_run_says_so(client_as, etl):
    run = add_run(etl, Run.SUCCESS)

    response = client_as("operator").post(reverse("run-cancel", args=[run.pk]), follow=True)

    assert messages_of(response) == ["The run has already ended."]
    run.refresh_from_db()
    assert run.status == Run.SUCCESS and not run.cancel_requested


# ------------------------------------------------------------------ re-run


def test_rerun_answers_only_post(client_as, etl):
    run = add_run(etl, Run.FAILED)

    assert client_as("operator").get(reverse("run-rerun", args=[run.pk])).status_code == 405
    assert Run.objects.count() == 1


def test_a_viewer_may_not_rerun(client_as, etl):
    run = add_run(etl, Run.FAILED)

    response = client_as("viewer").post(reverse("run-rerun", args=[run.pk]), {"failed_only": "0"})

    assert response.status_code == 403
    assert Run.objects.count() == 1


def test_rerunning_the_failed_tasks_reuses_the_successes(client_as, users, etl):
    old = add_run(
        etl,
        Run.FAILED,
        tasks={"extract": "success", "transform[format=csv]": "success", "transform[format=json]": "failed"},
    )
    TaskRun.objects.filter(run=old, node_id="extract").update(outputs={"rows": "2"}, exit_code=0)

    response = client_as("operator").post(reverse("run-rerun", args=[old.pk]), {"failed_only": "1"})

    new = Run.objects.exclude(pk=old.pk).get()
    assert response.status_code == 302 and response["Location"] == new.get_absolute_url()
    assert new.rerun_of == old and new.trigger == "rerun" and new.status == Run.QUEUED
    assert new.triggered_by == users["operator"] and new.number == old.number + 1
    tasks = {t.node_id: t for t in new.tasks.all()}
    assert {n for n, t in tasks.items() if t.reused} == {"extract", "transform[format=csv]"}
    assert tasks["extract"].status == TaskRun.SUCCESS and tasks["extract"].outputs == {"rows": "2"}
    assert tasks["transform[format=json]"].status == TaskRun.PENDING
    assert tasks["load"].status == TaskRun.PENDING


def test_rerunning_everything_reuses_nothing(client_as, etl):
    old = add_run(etl, Run.FAILED, tasks={"extract": "success", "transform[format=csv]": "failed"})

    client_as("operator").post(reverse("run-rerun", args=[old.pk]), {"failed_only": "0"})

    new = Run.objects.exclude(pk=old.pk).get()
    assert set(new.tasks.values_list("status", "reused")) == {(TaskRun.PENDING, False)}


def test_rerunning_the_failed_tasks_of_a_successful_run_says_nothing_failed(client_as, etl):
    run = add_run(etl, Run.SUCCESS, tasks=dict.fromkeys(NODES, "success"))

    response = client_as("operator").post(reverse("run-rerun", args=[run.pk]), {"failed_only": "1"}, follow=True)

    assert response.redirect_chain == [(run.get_absolute_url(), 302)]
    assert messages_of(response) == ["Nothing failed in this run."]
    assert Run.objects.count() == 1


def test_a_run_still_going_cannot_be_rerun(client_as, etl):
    run = add_run(etl, Run.RUNNING)

    response = client_as("operator").post(reverse("run-rerun", args=[run.pk]), {"failed_only": "0"}, follow=True)

    assert messages_of(response) == ["Wait for the run to end (or cancel it) before re-running it."]
    assert Run.objects.count() == 1


# ------------------------------------------------------------------ overview


def section(html: str, heading: str) -> str:
    start = html.index(heading)
    end = html.find("<h2>", start + 1)
    return html[start : end if end != -1 else len(html)]


def test_the_overview_shows_active_and_recent_runs(client_as, etl):
    queued, running = add_run(etl).pk, add_run(etl, Run.RUNNING).pk
    failed, succeeded = add_run(etl, Run.FAILED).pk, add_run(etl, Run.SUCCESS).pk

    html = client_as("viewer").get(reverse("overview")).content.decode()

    assert run_ids(section(html, "Going on now")) == [running, queued]
    assert run_ids(section(html, "Recent runs")) == [succeeded, failed]
    assert '<div class="value" id="active-count">2</div>' in html


def test_the_failure_rate_counts_the_last_seven_days_finished_runs(client_as, etl):
    for status in (Run.FAILED, Run.FAILED, Run.FAILED, Run.SUCCESS, Run.CANCELLED, Run.RUNNING):
        add_run(etl, status)
    eight_days_ago = timezone.now() - timedelta(days=8)
    for status in (Run.SUCCESS, Run.SUCCESS, Run.FAILED):
        add_run(etl, status, created_at=eight_days_ago)

    html = client_as("viewer").get(reverse("overview")).content.decode()

    # 3 failed of 4 that succeeded or failed; cancelled and running runs are neither.
    assert '<div class="value" id="failure-rate">75.0%</div>' in html and '<span id="week-failed">3</span>' in html
    assert '<div class="value" id="week-total">6</div><div class="label">runs in the last 7 days</div>' in html
    # The same figures as JSON, which the page fetches again as runs start and end.
    stats = client_as("viewer").get(reverse("overview-stats")).json()
    assert stats == {"week_total": 6, "week_failed": 3, "failure_rate": 75.0, "workflow_count": 1}


def test_the_failure_rate_is_a_dash_without_finished_runs(client_as, etl):
    add_run(etl, Run.RUNNING)

    html = client_as("viewer").get(reverse("overview")).content.decode()

    assert '<div class="value" id="failure-rate">–</div>' in html and '<span id="week-failed">0</span>' in html
    assert client_as("viewer").get(reverse("overview-stats")).json()["failure_rate"] is None


def test_cancel_and_rerun_refuse_a_post_without_a_csrf_token(users, etl):
    queued, failed = add_run(etl), add_run(etl, Run.FAILED, tasks={"extract": "failed"})
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["operator"])

    assert client.post(reverse("run-cancel", args=[queued.pk])).status_code == 403
    assert client.post(reverse("run-rerun", args=[failed.pk]), {"failed_only": "1"}).status_code == 403
    assert Run.objects.get(pk=queued.pk).status == Run.QUEUED
    assert Run.objects.count() == 2
