"""API clients: a session login per role (client_as, in tests/conftest.py) or a real token."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


@pytest.fixture
def api_as(users):
    """An APIClient sending the role's real token in the Authorization header."""

    def make(role: str) -> APIClient:
        token, _ = Token.objects.get_or_create(user=users[role])
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The users fixture hashes four passwords per test; the default hasher makes that seconds."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
