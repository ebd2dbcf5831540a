"""A provider's scope: a run of a workflow it does not allow (by name pattern or tag) fails before
any task starts, saying which reference broke which rule; an allowed one runs."""

from __future__ import annotations

import pytest

from security.models import SecretNotice, SecretRead
from workflows.models import TaskAttempt

from .conftest import run_now, workflow

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_workflow_outside_the_scope_fails_before_its_first_task(make_provider, vault_secret, tmp_path):
    make_provider("prod-vault", workflows=["prod_*"], tags=["env=prod"])
    path = vault_secret({"password": "production-only"})
    marker = tmp_path / "ran"
    run = run_now(workflow("sneaky", {
        "first": {"run": ["touch", str(marker)]},
        "steal": {"run": "env", "needs": ["first"], "secrets": {"PW": f"prod-vault:{path}#password"}},
    }, tags={"env": "dev"}))  # fmt: skip
    assert run.status == "failed"
    assert run.message == (
        "steal.secrets.PW: workflow 'sneaky' may not use secret provider 'prod-vault' "
        "(it is open to workflows prod_*; tags env=prod)"
    )
    assert not marker.exists() and not TaskAttempt.objects.filter(taskrun__run=run).exists()
    assert set(run.tasks.values_list("status", flat=True)) == {"cancelled"}
    assert not SecretRead.objects.filter(run=run).exists()
    assert list(SecretNotice.objects.filter(run=run).values_list("level", "message")) == [("error", run.message)]


def test_an_unknown_provider_fails_the_run_naming_it(make_provider):
    run = run_now(workflow("typo", {"a": {"run": "true", "secrets": {"PW": "no-such-vault:db#password"}}}))
    assert run.status == "failed"
    assert run.message == "a.secrets.PW: no secret provider is named 'no-such-vault'"


def test_an_empty_scope_allows_no_workflow(make_provider):
    make_provider("closed", workflows=())
    run = run_now(workflow("anyone", {"a": {"run": "true", "secrets": {"PW": "closed:db#password"}}}))
    assert run.status == "failed" and "(it is open to no workflow)" in run.message


def test_a_workflow_with_an_allowed_tag_runs(make_provider, vault_secret):
    make_provider("prod-vault", workflows=["prod_*"], tags=["env=prod"])
    path = vault_secret({"password": "production-only"})
    run = run_now(workflow("reporting", {"a": {"run": "true", "secrets": {"PW": f"prod-vault:{path}#password"}}},
                           tags={"env": "prod"}))  # fmt: skip
    assert run.status == "success", run.message
    assert SecretRead.objects.filter(run=run, env="PW").exists()
