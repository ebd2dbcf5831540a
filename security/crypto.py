"""Secret providers' credentials at rest: encrypted with Fernet keys, several at once for rotation.

The keys come from SECRET_ENCRYPTION_KEYS (or the file SECRET_ENCRYPTION_KEYS_FILE names),
comma-separated, newest first: the first encrypts, every one decrypts (cryptography's
MultiFernet), so a new key can be put in front and `manage.py rotate_secret_keys` re-encrypts
what the old ones wrote before they are dropped. Without them, one key is generated the first
time it is needed and kept in the data directory (mode 0600). Every process that runs tasks
(the server, each `run_huey` worker) needs the same keys.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

KEY_FILE = "secret_encryption_key"
ENV_NAME = "SECRET_ENCRYPTION_KEYS"


class CredentialsUnreadable(Exception):
    """Stored credentials that none of the configured keys decrypts (a key was dropped too early)."""


def _key_file() -> Path:
    return Path(settings.DATA_DIR) / KEY_FILE


def _generated_key() -> str:
    path = _key_file()
    if not path.exists():
        # Written whole under another name, then linked into place: two processes starting at
        # once agree on one key (the loser reads the winner's), and nobody reads half a key.
        draft = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(Fernet.generate_key().decode())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def configured_keys() -> list[str]:
    """The keys, newest first; raises ImproperlyConfigured naming the variable if one is malformed."""
    keys = list(getattr(settings, "SECRET_ENCRYPTION_KEYS", None) or [])
    if not keys:
        return [_generated_key()]
    for position, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                f"{ENV_NAME}: key {position} is not a Fernet key (32 url-safe base64-encoded bytes; "
                f"make one with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
            ) from None
    return keys


_cache: dict[tuple[str, ...], MultiFernet] = {}


def _fernet() -> MultiFernet:
    keys = tuple(configured_keys())
    fernet = _cache.get(keys)
    if fernet is None:
        _cache.clear()
        fernet = _cache[keys] = MultiFernet([Fernet(key) for key in keys])
    return fernet


def encrypt(values: Mapping[str, Any]) -> str:
    """A Fernet token (text) holding `values` as JSON; empty mapping -> empty string."""
    if not values:
        return ""
    return _fernet().encrypt(json.dumps(dict(values), sort_keys=True).encode()).decode("ascii")


def decrypt(token: str) -> dict[str, Any]:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode("ascii")))
    except InvalidToken:
        raise CredentialsUnreadable(
            f"the stored credentials cannot be decrypted with the configured keys ({ENV_NAME}): "
            "was the key that encrypted them removed?"
        ) from None


def rotate(token: str) -> str:
    """The same values encrypted with the newest key (MultiFernet.rotate keeps the timestamp)."""
    if not token:
        return token
    try:
        return _fernet().rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken:
        raise CredentialsUnreadable(f"a stored token cannot be decrypted with any key in {ENV_NAME}") from None


def encrypted_with_newest(token: str) -> bool:
    """Whether the first (newest) key alone decrypts the token: rotation left nothing behind."""
    if not token:
        return True
    try:
        Fernet(configured_keys()[0]).decrypt(token.encode("ascii"))
    except InvalidToken:
        return False
    return True
