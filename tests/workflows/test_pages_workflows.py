"""Workflow pages: list, detail (DAG, source, versions, trigger form), create/edit with errors at
their lines, triggering a run, and who may do what."""

from __future__ import annotations

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from tests.conftest import make_workflow
from workflows import runner
from workflows.models import Run, Workflow, WorkflowVersion

ETL = """name: etl
description: nightly load
params:
  day: {default: today, description: which day}
  mode: {default: full, choices: [full, delta]}
tasks:
  extract: {run: "echo extract ${{ params.day }}"}
  transform: {run: "echo ${{ matrix.format }}", needs: [extract], matrix: {format: [csv, json]}}
  load: {run: "echo load <all>", needs: ["transform[*]"]}
"""
NODES = {"extract", "transform[format=csv]", "transform[format=json]", "load"}

# Line 5 holds the only error: a timeout must be a number.
BAD = """name: broken
tasks:
  a: {run: "echo a"}
  b: {run: "echo b", needs: [a]}
  c: {run: "echo c", timeout: fast}
"""

HELLO_JSON = json.dumps({"name": "hello_json", "tasks": {"say": {"run": "echo hi"}}}, indent=2)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def svg_nodes(html: str) -> set[str]:
    return set(re.findall(r'<g class="node [^"]*" data-node="([^"]+)"', html))


def bad_lines(html: str) -> list[str]:
    return re.findall(r'<div class="ln bad" id="L(\d+)"', html)


# ------------------------------------------------------------------ list and detail


def test_the_list_shows_each_workflow_with_its_last_run(client_as):
    etl = make_workflow(ETL)
    make_workflow("name: idle\ntasks:\n  a: {run: 'true'}\n")
    run = runner.create_run(etl, enqueue=False)

    response = client_as("viewer").get(reverse("workflow-list"))

    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="{etl.get_absolute_url()}">etl</a>' in html
    assert ">idle</a>" in html
    assert reverse("run-detail", args=[run.pk]) in html
    assert "never" in html  # idle has no run yet
    assert "New workflow" not in html  # a viewer cannot create one


def test_the_detail_page_shows_the_dag_source_versions_and_trigger_form(client_as):
    workflow = make_workflow(ETL)

    response = client_as("operator").get(workflow.get_absolute_url())

    assert response.status_code == 200
    html = response.content.decode()
    assert svg_nodes(html) == NODES
    assert '<g class="group" data-task="transform">' in html  # the matrix legs boxed together
    assert "echo load &lt;all&gt;" in html  # the source, escaped
    assert "<td>v1</td>" in html
    form = html[html.index('id="trigger-form"') : html.index("</form>", html.index('id="trigger-form"'))]
    assert re.findall(r'name="(\w+)"', form) == ["csrfmiddlewaretoken", "day", "mode"]
    assert re.search(r'<input type="text" name="day" value="today"', form)
    select = re.search(r'<select name="mode"[^>]*>(.*?)</select>', form, re.S)
    assert select is not None
    assert re.findall(r'<option value="(\w+)"', select.group(1)) == ["full", "delta"]
    assert 'href="{}"'.format(reverse("workflow-edit", args=[workflow.pk])) in html


def test_the_detail_page_of_a_workflow_without_params_says_so(client_as):
    workflow = make_workflow("name: plain\ntasks:\n  a: {run: 'true'}\n")

    html = client_as("operator").get(workflow.get_absolute_url()).content.decode()

    assert "This workflow takes no parameters." in html
    assert svg_nodes(html) == {"a"}


def test_a_viewer_sees_no_trigger_form_and_no_edit_link(client_as):
    workflow = make_workflow(ETL)

    html = client_as("viewer").get(workflow.get_absolute_url()).content.decode()

    assert 'id="trigger-form"' not in html
    assert reverse("workflow-edit", args=[workflow.pk]) not in html
    assert svg_nodes(html) == NODES


# ------------------------------------------------------------------ create


def test_it_creates_a_workflow_from_text(client_as, users):
    response = client_as("operator").post(reverse("workflow-create"), {"source": ETL, "base_dir": ""})

    workflow = Workflow.objects.get(name="etl")
    assert response.status_code == 302
    assert response["Location"] == workflow.get_absolute_url()
    assert workflow.source == ETL and workflow.format == "yaml" and workflow.version == 1
    assert workflow.created_by == users["operator"]
    assert list(workflow.versions.values_list("version", flat=True)) == [1]


def test_it_creates_a_workflow_from_an_uploaded_file(client_as):
    upload = SimpleUploadedFile("etl.yml", ETL.encode(), content_type="application/x-yaml")

    response = client_as("operator").post(reverse("workflow-create"), {"source": "", "upload": upload})

    assert response.status_code == 302
    assert Workflow.objects.get(name="etl").source == ETL


def test_it_creates_a_workflow_from_an_uploaded_json_file(client_as):
    upload = SimpleUploadedFile("hello.json", HELLO_JSON.encode(), content_type="application/json")

    response = client_as("operator").post(reverse("workflow-create"), {"upload": upload})

    assert response.status_code == 302
    workflow = Workflow.objects.get(name="hello_json")
    assert workflow.format == "json"
    assert svg_nodes(client_as("operator").get(workflow.get_absolute_url()).content.decode()) == {"say"}


def test_it_creates_a_workflow_from_json_text(client_as):
    response = client_as("operator").post(reverse("workflow-create"), {"source": HELLO_JSON})

    assert response.status_code == 302
    assert Workflow.objects.get(name="hello_json").format == "json"


def test_an_invalid_upload_shows_the_error_at_its_line_and_saves_nothing(client_as):
    upload = SimpleUploadedFile("broken.yaml", BAD.encode())

    response = client_as("operator").post(reverse("workflow-create"), {"upload": upload})

    assert response.status_code == 200
    html = response.content.decode()
    assert "The workflow has 1 error(s)." in html
    assert bad_lines(html) == ["5"]
    assert re.search(r'<div class="msg" data-line="5">↑ <code>tasks.c.timeout</code>: must be a number', html)
    assert 'href="#L5" data-line="5">line 5</a>' in html
    assert "timeout: fast" in html  # the uploaded text is put back in the editor
    assert not Workflow.objects.exists() and not WorkflowVersion.objects.exists()


def test_an_empty_form_is_refused(client_as):
    response = client_as("operator").post(reverse("workflow-create"), {"source": "  "})

    assert response.status_code == 200
    assert "Give the workflow&#x27;s text or upload a file." in response.content.decode()
    assert not Workflow.objects.exists()


def test_a_new_workflow_may_not_take_an_existing_name(client_as):
    make_workflow(ETL)
    renamed = ETL.replace("nightly load", "a different one")

    response = client_as("operator").post(reverse("workflow-create"), {"source": renamed})

    assert response.status_code == 200
    assert "A workflow named &#x27;etl&#x27; exists already." in response.content.decode()
    workflow = Workflow.objects.get()
    assert workflow.version == 1 and workflow.description == "nightly load"
    assert WorkflowVersion.objects.count() == 1


# ------------------------------------------------------------------ edit


def test_editing_the_source_adds_a_version(client_as, users):
    workflow = make_workflow(ETL)
    changed = ETL.replace("echo load", "echo loading")

    response = client_as("operator").post(
        reverse("workflow-edit", args=[workflow.pk]), {"source": changed, "base_dir": ""}
    )

    assert response.status_code == 302 and response["Location"] == workflow.get_absolute_url()
    workflow.refresh_from_db()
    assert workflow.version == 2 and workflow.source == changed
    assert list(workflow.versions.values_list("version", "created_by")) == [(2, users["operator"].pk), (1, None)]
    html = client_as("operator").get(workflow.get_absolute_url()).content.decode()
    assert "<td>v2</td>" in html and "<td>v1</td>" in html


def test_saving_the_edit_form_unchanged_adds_no_version(client_as):
    workflow = make_workflow(ETL)
    as_a_browser_sends_it = ETL.replace("\n", "\r\n")  # textareas submit CRLF line ends

    response = client_as("operator").post(
        reverse("workflow-edit", args=[workflow.pk]), {"source": as_a_browser_sends_it, "base_dir": ""}
    )

    assert response.status_code == 302
    workflow.refresh_from_db()
    assert workflow.version == 1 and workflow.source == ETL
    assert WorkflowVersion.objects.count() == 1


def test_the_edit_form_starts_with_the_current_source(client_as):
    workflow = make_workflow(ETL)

    html = client_as("operator").get(reverse("workflow-edit", args=[workflow.pk])).content.decode()

    assert "echo load &lt;all&gt;" in html


def test_an_edit_may_not_rename_onto_another_workflow(client_as):
    make_workflow("name: taken\ntasks:\n  a: {run: 'true'}\n")
    workflow = make_workflow(ETL)

    response = client_as("operator").post(
        reverse("workflow-edit", args=[workflow.pk]), {"source": ETL.replace("name: etl", "name: taken")}
    )

    assert response.status_code == 200
    assert "A workflow named &#x27;taken&#x27; exists already." in response.content.decode()
    workflow.refresh_from_db()
    assert workflow.name == "etl" and workflow.version == 1


# ------------------------------------------------------------------ trigger


def test_triggering_with_params_queues_a_run_and_opens_its_page(client_as, users):
    workflow = make_workflow(ETL)

    response = client_as("operator").post(
        reverse("workflow-trigger", args=[workflow.pk]), {"day": "2024-05-01", "mode": "delta"}
    )

    run = Run.objects.get()
    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    assert run.status == Run.QUEUED and run.trigger == "ui" and run.triggered_by == users["operator"]
    assert run.params == {"day": "2024-05-01", "mode": "delta"}
    assert set(run.tasks.values_list("node_id", flat=True)) == NODES


def test_a_param_left_empty_takes_its_default(client_as):
    workflow = make_workflow(ETL)

    client_as("operator").post(reverse("workflow-trigger", args=[workflow.pk]), {"day": "", "mode": "full"})

    assert Run.objects.get().params == {"day": "today", "mode": "full"}


TYPED = """name: typed
params:
  dry_run: {default: false}
  verbose: {default: true}
  count: {default: 3}
  ratio: 0.5
  level: {default: 1, choices: [1, 2]}
tasks:
  a: {run: "true", skip_if: "params.dry_run"}
"""


def submitted_as_rendered(form_html: str) -> dict[str, str]:
    """What a browser sends for a form nobody touched: text values, ticked boxes, selected options."""
    data = {}
    for tag in re.findall(r"<input [^>]*>", form_html):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if 'type="checkbox"' in tag:
            if " checked" in tag:
                data[name.group(1)] = value.group(1) if value else "on"
        elif name:
            data[name.group(1)] = value.group(1) if value else ""
    for name, options in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', form_html, re.S):
        data[name] = re.search(r'<option value="([^"]*)"[^>]*selected', options).group(1)
    return data


def test_the_trigger_form_submitted_untouched_gives_the_declared_defaults(client_as):
    workflow = make_workflow(TYPED)
    client = client_as("operator")
    html = client.get(workflow.get_absolute_url()).content.decode()
    form = html[html.index('id="trigger-form"') : html.index("</form>", html.index('id="trigger-form"'))]

    client.post(reverse("workflow-trigger", args=[workflow.pk]), submitted_as_rendered(form))

    # The same values a run triggered over the API without params gets.
    assert Run.objects.get().params == {"dry_run": False, "verbose": True, "count": 3, "ratio": 0.5, "level": 1}


def test_params_keep_the_type_of_their_default(client_as):
    workflow = make_workflow(TYPED)
    client = client_as("operator")
    form_html = client.get(workflow.get_absolute_url()).content.decode()

    # As a browser submits the form untouched: a ticked box sends "on", an unticked one nothing.
    response = client.post(
        reverse("workflow-trigger", args=[workflow.pk]), {"verbose": "on", "count": "7", "ratio": "0.25", "level": "2"}
    )

    assert response.status_code == 302
    assert Run.objects.get().params == {"dry_run": False, "verbose": True, "count": 7, "ratio": 0.25, "level": 2}
    assert re.search(r'<input type="checkbox" name="dry_run"[^>]*>', form_html)
    assert not re.search(r'<input type="checkbox" name="dry_run"[^>]*checked', form_html)
    assert re.search(r'<input type="checkbox" name="verbose"[^>]*checked', form_html)
    assert re.search(r'<input type="number" name="count" value="3"', form_html)


def test_a_number_param_refuses_text(client_as):
    workflow = make_workflow(TYPED)

    response = client_as("operator").post(
        reverse("workflow-trigger", args=[workflow.pk]), {"count": "many"}, follow=True
    )

    assert [str(m) for m in response.context["messages"]] == ["Check the parameters: count: Enter a whole number."]
    assert not Run.objects.exists()


def test_a_choice_not_offered_is_refused_and_creates_nothing(client_as):
    workflow = make_workflow(ETL)

    response = client_as("operator").post(
        reverse("workflow-trigger", args=[workflow.pk]), {"day": "x", "mode": "weekly"}, follow=True
    )

    assert response.redirect_chain == [(workflow.get_absolute_url(), 302)]
    errors = [str(m) for m in response.context["messages"]]
    assert len(errors) == 1 and errors[0].startswith("Check the parameters: mode: Select a valid choice.")
    assert not Run.objects.exists()


def test_triggering_only_answers_post(client_as):
    workflow = make_workflow(ETL)

    response = client_as("operator").get(reverse("workflow-trigger", args=[workflow.pk]))

    assert response.status_code == 405
    assert not Run.objects.exists()


# ------------------------------------------------------------------ permissions and CSRF


def test_a_viewer_cannot_create_edit_or_trigger(client_as):
    workflow = make_workflow(ETL)
    client = client_as("viewer")

    assert client.get(reverse("workflow-create")).status_code == 403
    assert client.post(reverse("workflow-create"), {"source": ETL.replace("etl", "etl2")}).status_code == 403
    assert client.get(reverse("workflow-edit", args=[workflow.pk])).status_code == 403
    assert client.post(reverse("workflow-edit", args=[workflow.pk]), {"source": ETL + "\n"}).status_code == 403
    assert client.post(reverse("workflow-trigger", args=[workflow.pk]), {"mode": "full"}).status_code == 403
    assert list(Workflow.objects.values_list("name", "version")) == [("etl", 1)]
    assert not Run.objects.exists()


def test_an_anonymous_visitor_is_sent_to_the_login_page(client):
    response = client.get(reverse("workflow-list"))

    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def csrf_token_from(client: Client, url: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get(url).content.decode())
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def test_the_forms_refuse_a_post_without_a_csrf_token(users):
    workflow = make_workflow(ETL)
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["operator"])

    assert client.post(reverse("workflow-create"), {"source": ETL.replace("etl", "other")}).status_code == 403
    assert client.post(reverse("workflow-edit", args=[workflow.pk]), {"source": ETL + "\n"}).status_code == 403
    assert client.post(reverse("workflow-trigger", args=[workflow.pk]), {"mode": "full"}).status_code == 403
    assert list(Workflow.objects.values_list("name", "version")) == [("etl", 1)]
    assert not Run.objects.exists()


def test_the_forms_accept_a_post_with_the_pages_csrf_token(users):
    workflow = make_workflow(ETL)
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["operator"])

    token = csrf_token_from(client, reverse("workflow-create"))
    created = client.post(
        reverse("workflow-create"), {"source": ETL.replace("etl", "other"), "csrfmiddlewaretoken": token}
    )
    token = csrf_token_from(client, workflow.get_absolute_url())
    triggered = client.post(
        reverse("workflow-trigger", args=[workflow.pk]), {"mode": "full", "csrfmiddlewaretoken": token}
    )

    assert created.status_code == 302 and Workflow.objects.filter(name="other").exists()
    assert triggered.status_code == 302 and Run.objects.filter(workflow=workflow).count() == 1
