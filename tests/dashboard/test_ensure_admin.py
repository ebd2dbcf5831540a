"""`manage.py ensure_admin`: the first admin account, made once, its password shown once."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command


def ensure_admin(*args: str) -> str:
    out = StringIO()
    call_command("ensure_admin", *args, stdout=out)
    return out.getvalue()


def printed_password(output: str) -> str | None:
    match = re.search(r"password: (\S+)", output)
    return match.group(1) if match else None


def test_it_creates_one_superuser_whose_printed_password_signs_in(db, client, monkeypatch):
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    password = printed_password(ensure_admin())
    assert password
    admin = User.objects.get(is_superuser=True)
    assert admin.username == "admin" and admin.is_staff
    assert admin.groups.filter(name="admin").exists()
    assert client.login(username="admin", password=password)


def test_the_password_is_shown_only_the_first_time(db, monkeypatch):
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    first = ensure_admin()
    second = ensure_admin()
    assert printed_password(first)
    assert printed_password(second) is None and printed_password(first) not in second
    assert "exists" in second
    assert User.objects.filter(is_superuser=True).count() == 1


def test_admin_password_from_the_environment_is_used_and_not_echoed(db, client, monkeypatch):
    monkeypatch.setenv("ADMIN_PASSWORD", "chosen-by-the-operator-42")
    output = ensure_admin("--username", "boss")
    assert "chosen-by-the-operator-42" not in output
    assert client.login(username="boss", password="chosen-by-the-operator-42")


def test_a_plain_user_with_the_name_is_not_taken_over(db, monkeypatch):
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    User.objects.create_user("admin", password="theirs")
    with pytest.raises(CommandError, match="not a superuser"):
        ensure_admin()
    assert not User.objects.filter(is_superuser=True).exists()
