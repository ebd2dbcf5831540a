"""A secret that cannot be read fails its attempt before the process starts, with the provider's
exact cause as the task's reason (never an "internal error"), in its log and on the run."""

from __future__ import annotations

import pytest

from security.models import SecretNotice
from tests.security.providers.servers import free_port
from workflows.models import LogLine

from .conftest import run_now, workflow

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_missing_key_fails_the_task_and_skips_what_needs_it(make_provider, vault_secret, tmp_path):
    make_provider()
    path = vault_secret({"password": "there"})
    marker = tmp_path / "started"
    run = run_now(workflow("missing", {
        "a": {"run": ["touch", str(marker)], "secrets": {"PW": f"vault-test:{path}#nope"}},
        "b": {"run": "true", "needs": ["a"]},
    }))  # fmt: skip
    tasks = {t.node_id: t for t in run.tasks.all()}
    expected = f"secret PW: vault-test: {path}#nope: not found: the secret has no key 'nope' (keys: password)"
    assert (tasks["a"].status, tasks["a"].reason) == ("failed", expected)
    assert tasks["b"].status == "upstream_failed" and not marker.exists()
    assert list(LogLine.objects.filter(run=run).values_list("text", flat=True)) == [f"error: {expected}"]
    assert SecretNotice.objects.get(run=run).message == expected


def test_an_unreachable_store_is_named_as_such(make_provider):
    port = free_port()
    make_provider("gone", url=f"http://127.0.0.1:{port}", timeout=2)
    run = run_now(workflow("offline", {"a": {"run": "true", "secrets": {"PW": "gone:db#password"}}}))
    reason = run.tasks.get().reason
    assert (
        reason
        == f"secret PW: gone: db#password: unreachable: cannot connect to http://127.0.0.1:{port}: connection refused"
    )
