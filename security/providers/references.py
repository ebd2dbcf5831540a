"""How a workflow names a secret: `provider-name:path#key@version` (key and version optional),
parsed into a `SecretRef`. Plain Python: the workflow parser checks references with it too."""

from __future__ import annotations

import re
from dataclasses import dataclass

PROVIDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
_FORBIDDEN_IN_PATH = re.compile(r"[\s#@\x00-\x1f\x7f]")
_FORBIDDEN_IN_KEY = re.compile(r"[#@\x00-\x1f\x7f]")
REFERENCE_SYNTAX = "provider-name:path#key@version (key and version optional)"


class SecretsError(Exception):
    """Base of every error raised by this package."""


class InvalidReference(SecretsError, ValueError):
    """A reference that does not follow the syntax, or asks a provider for something it lacks."""

    def __init__(self, text: str, reason: str):
        self.text, self.reason = text, reason
        super().__init__(f"invalid secret reference {text!r}: {reason}")


@dataclass(frozen=True)
class SecretRef:
    """A parsed `provider-name:path#key@version`; `key` and `version` are "" when not given."""

    provider: str
    path: str
    key: str = ""
    version: str = ""

    def __str__(self) -> str:
        text = f"{self.provider}:{self.path}"
        if self.key:
            text += f"#{self.key}"
        if self.version:
            text += f"@{self.version}"
        return text

    @property
    def location(self) -> str:
        """The reference without the provider name: what an error message names after it."""
        return str(self).split(":", 1)[1]


def parse_reference(text: str) -> SecretRef:
    """Parse and check `provider-name:path#key@version`.

    `#` starts the key and the last `@` starts the version, so neither may appear in a path or
    key (no secret store we support needs them there: AWS names may contain `@`, so an AWS
    secret named with one is read through a reference without it, e.g. by its ARN).
    """
    if not isinstance(text, str):
        raise InvalidReference(str(text), f"expected a string like {REFERENCE_SYNTAX}")
    if text != text.strip():
        raise InvalidReference(text, "leading or trailing spaces")
    provider, colon, rest = text.partition(":")
    if not colon:
        raise InvalidReference(text, "missing ':' after the provider name")
    if not provider:
        raise InvalidReference(text, "the provider name before ':' is empty")
    if not PROVIDER_NAME.fullmatch(provider):
        raise InvalidReference(text, f"provider name {provider!r} may only contain letters, digits, '_', '.' and '-'")
    rest, at, version = rest.rpartition("@") if "@" in rest else (rest, "", "")
    if at and not _VERSION.fullmatch(version):
        raise InvalidReference(
            text, f"version {version!r} after '@' may only contain letters, digits, '_', '.', ':', '-'"
        )
    path, hash_, key = rest.partition("#")
    if not path:
        raise InvalidReference(text, "the path after ':' is empty")
    if bad := _FORBIDDEN_IN_PATH.search(path):
        raise InvalidReference(text, f"the path may not contain {bad.group()!r}")
    if path.endswith("/"):
        raise InvalidReference(text, f"the path {path!r} names a folder, not a secret")
    if hash_:
        if not key:
            raise InvalidReference(text, "the key after '#' is empty")
        if bad := _FORBIDDEN_IN_KEY.search(key):
            raise InvalidReference(text, f"the key may not contain {bad.group()!r}")
    return SecretRef(provider, path, key, version)


def as_reference(ref: SecretRef | str) -> SecretRef:
    return ref if isinstance(ref, SecretRef) else parse_reference(ref)
