"""The Django admin: admins can open every list and record page; other roles are sent to its login."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from tests.api.factories import add_attempt, add_lines, add_run, add_workflow
from workflows.models import LogLine, Run, TaskAttempt, TaskRun, WorkerHeartbeat, Workflow

MODELS = [Workflow, Run, TaskRun, TaskAttempt, LogLine, WorkerHeartbeat]


@pytest.fixture
def records(db) -> dict[type, object]:
    """One row of every model the admin shows."""
    run = add_run(add_workflow(), Run.SUCCESS, tasks={"extract": "success"})
    task = run.tasks.get(node_id="extract")
    add_attempt(task, 1, exit_code=0, wall_s=0.5)
    add_lines(task, 1, 3)
    beat = WorkerHeartbeat.objects.create(name="host:1:2", host="host", pid=1, mode="embedded", seen_at=timezone.now())
    return {
        Workflow: run.workflow,
        Run: run,
        TaskRun: task,
        TaskAttempt: task.attempt_set.get(),
        LogLine: LogLine.objects.filter(taskrun=task).first(),
        WorkerHeartbeat: beat,
    }


def admin_url(model: type, action: str, *args: object) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


@pytest.fixture(params=["superuser", "admin group"])
def admin_client(request, client, users):
    if request.param == "superuser":
        client.force_login(User.objects.create_superuser("root", password="pw"))
    else:
        client.force_login(users["admin"])  # staff, with the admin role's permissions
    return client


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_an_admin_opens_every_list_page(admin_client, records, model):
    response = admin_client.get(admin_url(model, "changelist"))
    assert response.status_code == 200
    assert response.context["cl"].result_count == model.objects.count() > 0


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_an_admin_opens_every_record_page(admin_client, records, model):
    response = admin_client.get(admin_url(model, "change", records[model].pk))
    assert response.status_code == 200


def test_the_workflow_page_shows_its_source_history_read_only(admin_client, records):
    workflow = records[Workflow]
    add_workflow(workflow.source.replace("echo load", "echo load v2"))
    response = admin_client.get(admin_url(Workflow, "change", workflow.pk))
    inline = response.context["inline_admin_formsets"][0]
    assert inline.formset.queryset.count() == 2
    assert not inline.has_add_permission and not inline.has_change_permission and not inline.has_delete_permission
    assert "echo load v2" in response.content.decode()


def test_run_bookkeeping_cannot_be_edited(admin_client, records):
    run = records[Run]
    response = admin_client.post(
        admin_url(Run, "change", run.pk), {"status": "queued", "worker": "me", "last_seq": 0, "message": "checked"}
    )
    assert response.status_code == 302
    run.refresh_from_db()
    assert (run.status, run.worker, run.message) == (Run.SUCCESS, "", "checked")


def test_the_run_list_filters_and_searches(admin_client, records):
    add_run(add_workflow("name: other\ntasks: {a: {run: 'true'}}"), Run.FAILED)
    url = admin_url(Run, "changelist")
    assert admin_client.get(url, {"status__exact": "failed"}).context["cl"].result_count == 1
    assert admin_client.get(url, {"q": "etl"}).context["cl"].result_count == 1
    assert admin_client.get(url, {"trigger__exact": "ui"}).context["cl"].result_count == 2


def test_list_pages_cost_the_same_queries_for_one_row_or_many(admin_client, records):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    workflow = records[Workflow]

    def queries(model: type) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(admin_url(model, "changelist")).status_code == 200
        return len(captured)

    before = {model: queries(model) for model in (Run, TaskRun, TaskAttempt, LogLine)}
    for n in range(4):
        user = User.objects.create_user(f"operator{n}")  # one more row to join, per run
        run = add_run(workflow, Run.SUCCESS, tasks={"extract": "success"}, user=user)
        task = run.tasks.get(node_id="extract")
        add_attempt(task, 1)
        add_lines(task, 1, 2)
    after = {model: queries(model) for model in before}
    assert after == before


@pytest.mark.parametrize("role", ["viewer", "operator", "triager"])
def test_other_roles_are_sent_to_the_admin_login(client_as, records, role):
    client = client_as(role)
    for url in (reverse("admin:index"), admin_url(Run, "changelist"), admin_url(Run, "change", records[Run].pk)):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login") + "?next=")


def test_an_admin_deletes_a_workflow_with_its_runs_and_logs(admin_client, records):
    workflow = records[Workflow]
    url = admin_url(Workflow, "delete", workflow.pk)
    assert admin_client.get(url).context["perms_lacking"] == set()
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Workflow.objects.exists() and not Run.objects.exists() and not LogLine.objects.exists()
