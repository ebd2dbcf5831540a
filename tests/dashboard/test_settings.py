"""Settings come from the environment: safe production checks, a kept secret key, and the two modes."""

from __future__ import annotations

import json
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import close_old_connections, connection

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "ALLOWED_HOSTS": "runner.example.com",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_PRELOAD": "1",
}


def manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """manage.py with only the given variables: none of this machine's (or the test run's) settings."""
    clean = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8", "DATA_DIR": str(tmp_path / "data")}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )


def setting(tmp_path: Path, expression: str, **env: str):
    result = manage(tmp_path, "shell", "-v", "0", "-c", f"import json; {expression}", **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_variables_pass_the_deploy_check(tmp_path):
    result = manage(
        tmp_path, "check", "--deploy", "--fail-level", "WARNING", SECRET_KEY=secrets.token_urlsafe(64), **PRODUCTION
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_without_them_the_deploy_check_warns(tmp_path):
    result = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 1
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr


def test_debug_is_off_unless_asked_for(tmp_path):
    assert setting(tmp_path, "from django.conf import settings; print(json.dumps(settings.DEBUG))") is False
    assert setting(tmp_path, "from django.conf import settings; print(json.dumps(settings.DEBUG))", DEBUG="1") is True


def test_a_secret_key_is_made_once_and_kept(tmp_path):
    read_key = "from django.conf import settings; print(json.dumps(settings.SECRET_KEY))"
    first = setting(tmp_path, read_key)
    second = setting(tmp_path, read_key)
    key_file = tmp_path / "data" / "secret_key"
    assert first == second == key_file.read_text().strip()
    assert len(first) >= 50
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert setting(tmp_path / "elsewhere", read_key) != first  # another data dir, another key


def test_secret_key_file_is_honoured(tmp_path):
    mounted = tmp_path / "mounted-secret"
    mounted.write_text("a-key-from-a-docker-secret-" + "x" * 40 + "\n")
    key = setting(
        tmp_path,
        "from django.conf import settings; print(json.dumps(settings.SECRET_KEY))",
        SECRET_KEY_FILE=str(mounted),
    )
    assert key == "a-key-from-a-docker-secret-" + "x" * 40
    assert not (tmp_path / "data" / "secret_key").exists()


def test_the_embedded_mode_is_the_default(tmp_path):
    mode = setting(
        tmp_path,
        "from django.conf import settings; from huey.contrib.djhuey import HUEY; "
        "from channels.layers import get_channel_layer; "
        "print(json.dumps([settings.DATABASES['default']['ENGINE'], type(HUEY).__name__, "
        "type(get_channel_layer()).__name__]))",
    )
    assert mode == ["django.db.backends.sqlite3", "EmbeddedHuey", "InMemoryChannelLayer"]


def test_database_url_selects_postgresql(tmp_path):
    database = setting(
        tmp_path,
        "from django.conf import settings; d = settings.DATABASES['default']; "
        "print(json.dumps([d['ENGINE'], d['HOST'], d['NAME'], d['USER']]))",
        DATABASE_URL="postgres://runner:pw@db.example.com:5432/runner",
    )
    assert database == ["django.db.backends.postgresql", "db.example.com", "runner", "runner"]


def test_redis_url_moves_the_queue_and_live_events_to_redis(tmp_path):
    mode = setting(
        tmp_path,
        "from django.conf import settings; from huey.contrib.djhuey import HUEY; "
        "from channels.layers import get_channel_layer; pool = HUEY.storage.pool.connection_kwargs; "
        "print(json.dumps([type(HUEY.storage).__name__, pool['host'], pool['db'], type(get_channel_layer()).__name__, "
        "settings.CHANNEL_LAYERS['default']['CONFIG']['hosts']]))",
        REDIS_URL="redis://cache.example.com:6379/2",
    )
    assert mode == [
        "PriorityRedisStorage", "cache.example.com", 2, "RedisPubSubChannelLayer", ["redis://cache.example.com:6379/2"],
    ]  # fmt: skip


def test_sqlite_runs_in_wal_mode(db):
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL has no journal mode")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"


@pytest.mark.django_db(transaction=True)
def test_the_embedded_database_connection_outlives_each_run():
    """Huey's task wrapper and runner.execute call close_old_connections around every run. On
    the embedded default that must not close the worker's SQLite connection: a new one reads the
    schema again (~1.5 ms), before each run's first task."""
    if "DATABASE_URL" in os.environ:
        pytest.skip("the connection's lifetime is DB_CONN_MAX_AGE's there")
    from workflows.models import Run

    Run.objects.exists()
    before = connection.connection
    close_old_connections()
    Run.objects.exists()
    assert before is not None and connection.connection is before
