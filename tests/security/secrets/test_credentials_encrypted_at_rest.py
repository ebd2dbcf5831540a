"""Credentials at rest: the database holds Fernet ciphertext only; the key comes from
SECRET_ENCRYPTION_KEYS or is generated once into the data directory; keys rotate (MultiFernet):
a new key first, `rotate_secret_keys`, then the old one can go."""

from __future__ import annotations

import io
import json
import stat

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.db import connection

from security import crypto
from security.models import ProviderChange, SecretProvider

from .conftest import run_now, vault_form, workflow

pytestmark = pytest.mark.django_db


def stored_row(name: str) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT options, credentials FROM security_secretprovider WHERE name = %s", [name])
        options, credentials = cursor.fetchone()
    return str(options), credentials


def test_the_database_column_holds_ciphertext_only(client_as, bao, settings):
    settings.SECRET_ENCRYPTION_KEYS = [key := Fernet.generate_key().decode()]
    client_as("admin").post("/providers/new/", vault_form(bao.url, vault__token="hvs.at-rest-token-1234"))
    options, credentials = stored_row("vault-prod")
    assert "hvs.at-rest-token-1234" not in options and "hvs.at-rest-token-1234" not in credentials
    assert json.loads(Fernet(key).decrypt(credentials.encode())) == {"token": "hvs.at-rest-token-1234"}


def test_without_keys_one_is_generated_once_into_the_data_dir(settings, tmp_path):
    settings.SECRET_ENCRYPTION_KEYS = []
    settings.DATA_DIR = tmp_path
    token = crypto.encrypt({"token": "abc-1234"})
    key_file = tmp_path / "secret_encryption_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert crypto.configured_keys() == [key_file.read_text().strip()]  # the same key next time
    assert json.loads(Fernet(key_file.read_text().strip()).decrypt(token.encode())) == {"token": "abc-1234"}


def test_a_new_key_first_then_rotate_then_drop_the_old_one(settings, make_provider):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.SECRET_ENCRYPTION_KEYS = [old]
    provider = make_provider("vault-prod", token="hvs.rotate-me-1234")
    settings.SECRET_ENCRYPTION_KEYS = [new, old]
    assert SecretProvider.objects.get().config()["token"] == "hvs.rotate-me-1234"  # the old key still reads
    call_command("rotate_secret_keys", stdout=(out := io.StringIO()))
    assert out.getvalue().strip() == "1 provider(s) re-encrypted with the newest key, 0 already were"
    settings.SECRET_ENCRYPTION_KEYS = [new]
    _options, credentials = stored_row("vault-prod")
    assert SecretProvider.objects.get().config()["token"] == "hvs.rotate-me-1234"
    with pytest.raises(InvalidToken):
        Fernet(old).decrypt(credentials.encode())
    assert ProviderChange.objects.filter(provider=provider, action="rotated", fields=["credentials"]).exists()


@pytest.mark.django_db(transaction=True)
def test_dropping_a_key_too_early_fails_runs_and_rotation_plainly(settings, make_provider):
    settings.SECRET_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    make_provider("vault-prod")
    settings.SECRET_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    run = run_now(workflow("after-key-loss", {"a": {"run": "true", "secrets": {"PW": "vault-prod:db#pw"}}}))
    assert run.status == "failed"
    assert run.message.startswith("secret provider 'vault-prod': the stored credentials cannot be decrypted")
    with pytest.raises(CommandError, match="no configured key decrypts the credentials of: vault-prod"):
        call_command("rotate_secret_keys")


def test_a_malformed_key_is_named_by_the_system_check(settings):
    settings.SECRET_ENCRYPTION_KEYS = ["not-a-key"]
    errors = [e for e in run_checks() if e.id == "security.E001"]
    assert len(errors) == 1 and errors[0].msg.startswith("SECRET_ENCRYPTION_KEYS: key 1 is not a Fernet key")
