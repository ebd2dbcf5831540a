"""A task's `secrets:` are read when its attempt starts and become environment variables of that
process only: not of the other tasks, not on its command line, and what was read (never the
value) is recorded as lineage."""

from __future__ import annotations

import hashlib

import pytest

from security.models import SecretRead
from workflows.models import TaskAttempt

from .conftest import python, run_now, workflow

pytestmark = pytest.mark.django_db(transaction=True)


def env_has_digest(env: str, value: str) -> list[str]:
    digest = hashlib.sha256(value.encode()).hexdigest()
    return python(
        f"import hashlib, os, sys; sys.exit(hashlib.sha256(os.environ[{env!r}].encode()).hexdigest() != {digest!r})"
    )


def test_the_value_is_in_the_task_environment_and_nowhere_else(make_provider, vault_secret):
    make_provider()
    value = "s3cr3t-Value/with+chars"
    path = vault_secret({"password": value})
    run = run_now(workflow("inject", {
        "use": {"run": env_has_digest("DB_PASSWORD", value), "secrets": {"DB_PASSWORD": f"vault-test:{path}#password"}},
        "other": {"run": python("import os, sys; sys.exit('DB_PASSWORD' in os.environ)"), "needs": ["use"]},
    }))  # fmt: skip
    assert run.status == "success", run.message
    commands = list(TaskAttempt.objects.filter(taskrun__run=run).values_list("command", flat=True))
    assert len(commands) == 2 and not any(value in command for command in commands)


def test_each_read_is_recorded_with_provider_path_key_and_version(make_provider, vault_secret):
    make_provider()
    path = vault_secret({"password": "first-version-value"})
    vault_secret({"password": "second-version-value"}, path=path)
    ref = f"vault-test:{path}#password"
    run = run_now(workflow("lineage", {
        "new": {"run": "true", "secrets": {"PW": ref}},
        "old": {"run": "true", "needs": ["new"], "secrets": {"PW": f"{ref}@1"}},
        "again": {"run": "true", "needs": ["old"], "secrets": {"PW": ref}},
    }))  # fmt: skip
    assert run.status == "success", run.message
    reads = {r.taskrun.node_id: r for r in SecretRead.objects.filter(run=run).select_related("taskrun", "provider")}
    assert (reads["new"].provider.name, reads["new"].path, reads["new"].key) == ("vault-test", path, "password")
    assert (reads["new"].requested_version, reads["new"].version, reads["new"].cached) == ("", "2", False)
    assert (reads["old"].requested_version, reads["old"].version) == ("1", "1")
    assert reads["again"].cached is True  # the run's cache, not a second request to the store
    assert all(r.env == "PW" and r.attempt == 1 for r in reads.values())
