"""Fixtures for the secret provider pages and the secrets run extension: the provider tests' real
servers (OpenBao, moto, the local Key Vault), providers stored the way an admin's form stores
them, and workflows run through the real runner."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import make_workflow
from tests.security.providers.conftest import approle, bao, keyvault, moto  # noqa: F401  (the real servers)
from tests.security.providers.servers import BaoServer


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def admin(users):
    return users["admin"]


@pytest.fixture
def make_provider(admin, bao: BaoServer) -> Callable[..., Any]:  # noqa: F811
    """Store a provider as an admin's form would (encrypted, audited); a Vault provider on the
    session's OpenBao with its root token unless told otherwise. Open to every workflow by default."""
    from security.models import SecretProvider
    from security.providers.resolve import Scope

    def make(
        name: str = "vault-test", kind: str = "vault", *, workflows=("*",), tags=(), description="", **config: Any
    ):
        if kind == "vault":
            config = {"url": bao.url, "token": bao.token, **config}
            if config.get("auth") == "approle":
                config.pop("token")
        provider = SecretProvider()
        scope = Scope.parse(workflows, tags)
        provider.save_config(name=name, kind=kind, config=config, scope=scope, description=description, user=admin)
        return provider

    return make


@pytest.fixture
def vault_secret(bao: BaoServer, unique: str) -> Callable[..., str]:  # noqa: F811
    """Write a KV v2 secret under a fresh path on OpenBao; returns the path (a new version each call)."""

    def write(data: dict[str, str], path: str = "") -> str:
        path = path or f"app-{unique}/db"
        bao.client().secrets.kv.v2.create_or_update_secret(path=path, secret=data, mount_point="secret")
        return path

    return write


def workflow(name: str, tasks: dict[str, Any], **top: Any) -> str:
    """A workflow file (JSON, which the YAML loader reads too): no quoting to get wrong."""
    return json.dumps({"name": name, **top, "tasks": tasks})


def python(code: str) -> list[str]:
    """A task's `run:` as an argument list: `python -c CODE`, no shell in between."""
    return ["python", "-c", code]


def run_now(text: str, **kwargs: Any):
    """Create a run of the workflow and execute it in this process; the stored Run when it ended."""
    from workflows import runner
    from workflows.models import Run

    run = runner.create_run(make_workflow(text, **kwargs), enqueue=False)
    runner.execute(run.pk)
    return Run.objects.get(pk=run.pk)


def vault_form(url: str, **fields: str) -> dict[str, str]:
    """What an admin posts for a Vault provider (token auth, KV v2 at secret/), with changes."""
    data = {
        "name": "vault-prod", "kind": "vault", "description": "", "scope_workflows": "*", "scope_tags": "",
        "vault__url": url, "vault__mount": "secret", "vault__kv_version": "2", "vault__auth": "token",
        "vault__token": "", "vault__approle_mount": "approle", "vault__verify_tls": "on", "vault__timeout": "10",
    }  # fmt: skip
    data.update(fields)
    return data
