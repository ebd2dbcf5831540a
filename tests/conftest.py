"""Shared fixtures: users in each role, a real Huey consumer, and waiting on conditions."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02, message: str = "") -> Any:
    """Poll a condition until it holds; fail with `message` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message or f"condition not met within {timeout}s")
        time.sleep(interval)  # ok: this is the polling helper itself


def service_reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip when a service is missing, except in CI (REQUIRE_SERVICES=1), where that is a failure."""
    if service_reachable(host, port):
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{name} at {host}:{port} is required (REQUIRE_SERVICES=1) but not reachable")
    pytest.skip(f"{name} at {host}:{port} not reachable")


@pytest.fixture
def users(db) -> dict[str, Any]:
    """One user per role (viewer, operator, triager, admin), password 'pw'."""
    from django.contrib.auth.models import Group, User

    from dashboard.accounts import ROLES, sync_roles

    sync_roles()
    made = {}
    for role in ROLES:
        user = User.objects.create_user(role, password="pw", is_staff=(role == "admin"))
        user.groups.add(Group.objects.get(name=role))
        made[role] = user
    return made


@pytest.fixture
def client_as(client, users):
    def login(role: str):
        client.force_login(users[role])
        return client

    return login


@pytest.fixture
def consumer(transactional_db) -> Iterator[Any]:
    """A real Huey consumer (threads in this process) on the configured queue: SQLite or Redis."""
    from huey.contrib.djhuey import HUEY

    from dashboard.management.commands.serve import start_embedded_consumer

    if not settings.EMBEDDED:
        require_service("Redis", "127.0.0.1", 6379)
    HUEY.flush()
    running = start_embedded_consumer(workers=2)
    yield running
    from workflows import runner

    runner.stop_active_runs("test over")
    running.stop(graceful=True)  # its shutdown hook ends the worker heartbeat


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment of a `manage.py` subprocess sharing this test's database, data dir and queue."""
    from urllib.parse import quote

    from django.db import connection

    env = {k: v for k, v in os.environ.items() if k != "PYTEST_VERSION"}
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    else:
        auth = quote(db["USER"] or "", safe="") + (f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else "")
        env["DATABASE_URL"] = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env["DATA_DIR"] = str(settings.DATA_DIR)
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra)
    return env


def make_workflow(text: str, *, base_dir: str | None = None, user: Any = None):
    from workflows import saving
    from workflows.engine.spec import parse_workflow

    spec = parse_workflow(text)
    return saving.save_workflow(text, fmt="yaml", spec=spec, base_dir=base_dir, user=user)


def wait_for_run(run_id: int, timeout: float = 30.0):
    from workflows.models import Run

    return wait_until(
        lambda: (r := Run.objects.get(pk=run_id)).is_final and r,
        timeout=timeout,
        message=f"run {run_id} did not finish within {timeout}s",
    )
