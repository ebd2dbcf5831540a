"""What every secret provider is: the value type, the errors, the interface (the reference syntax
is in .references).

A workflow names a secret as `provider-name:path#key@version` (key and version optional). A
provider turns that into a `SecretValue`, tests its connection, lists paths for a picker and
writes secrets. Errors name the provider, the reference and the cause, never a value. Nothing
here imports a provider's client library: those load only when a provider of that kind is built.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .references import PROVIDER_NAME, InvalidReference, SecretRef, SecretsError, as_reference
from .references import parse_reference as parse_reference  # part of the providers' API too

# ------------------------------------------------------------------------------ values


@dataclass(frozen=True)
class SecretValue:
    """One resolved secret. The value is left out of repr() and str(), so that logging the
    object, or a traceback that shows it, never prints the secret."""

    ref: SecretRef
    value: str = field(repr=False)
    version: str = ""
    # "base64" when the store held bytes that are not UTF-8 text (AWS SecretBinary).
    encoding: str = ""

    def __str__(self) -> str:
        return f"<secret {self.ref}{'' if self.ref.version or not self.version else '@' + self.version}>"


@dataclass(frozen=True)
class SecretDocument:
    """What one read of a path returns: a mapping (Vault KV), or one string (AWS, Azure)."""

    data: str | Mapping[str, Any] = field(repr=False)
    version: str = ""
    encoding: str = ""


# ------------------------------------------------------------------------------ errors


class ProviderError(SecretsError):
    """A provider could not do what was asked. The message reads
    `provider: reference: cause: detail`, and never contains a secret value."""

    kind = "error"
    cause = "error"

    def __init__(self, provider: str, ref: SecretRef | str | None, detail: str):
        self.provider = provider
        self.ref = str(ref) if ref is not None else None
        self.detail = detail
        where = self.ref.split(":", 1)[1] if self.ref and self.ref.startswith(f"{provider}:") else self.ref
        parts = [provider] + ([where] if where else []) + [self.cause, detail]
        super().__init__(": ".join(p for p in parts if p))


class AuthenticationError(ProviderError):
    kind, cause = "authentication", "authentication failed"


class PermissionDeniedError(ProviderError):
    kind, cause = "permission", "permission denied"


class NotFoundError(ProviderError):
    kind, cause = "not_found", "not found"


class SealedError(ProviderError):
    kind, cause = "sealed", "sealed"


class TLSError(ProviderError):
    kind, cause = "tls", "TLS error"


class UnreachableError(ProviderError):
    kind, cause = "unreachable", "unreachable"


class ProviderConfigError(SecretsError, ValueError):
    """A provider configuration with errors, per field (what a form shows next to each field)."""

    def __init__(self, errors: Mapping[str, str], provider: str = ""):
        self.errors = dict(errors)
        self.provider = provider
        listed = "; ".join(f"{name}: {message}" for name, message in self.errors.items())
        super().__init__(f"{provider}: {listed}" if provider else listed)


# ------------------------------------------------------------------------------ configuration


@dataclass(frozen=True)
class Field:
    """One setting of a provider kind, described so that a form can be built from it.

    `secret` fields are credentials: stored encrypted, never shown again. `when` shows (and
    requires, if `required`) the field only while other fields have the given values, e.g.
    {"auth": ("approle",)}.
    """

    name: str
    label: str
    type: str = "text"  # text | secret | choice | bool | int | pem
    required: bool = False
    default: Any = None
    choices: tuple[tuple[str, str], ...] = ()
    help: str = ""
    when: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def secret(self) -> bool:
        return self.type == "secret"

    def applies(self, config: Mapping[str, Any]) -> bool:
        return all(config.get(name) in values for name, values in self.when.items())


def _clean_value(spec: Field, raw: Any) -> Any:
    if spec.type == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise ValueError("expected true or false")
    if spec.type == "int":
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ValueError("expected a whole number") from None
    if not isinstance(raw, str):
        raise ValueError("expected text")
    value = raw if spec.type == "secret" else raw.strip()
    if spec.type == "choice" and value and value not in {key for key, _ in spec.choices}:
        allowed = ", ".join(key for key, _ in spec.choices)
        raise ValueError(f"{value!r} is not one of {allowed}")
    if spec.type == "pem" and value and "-----BEGIN CERTIFICATE-----" not in value:
        raise ValueError("expected PEM text with one or more '-----BEGIN CERTIFICATE-----' blocks")
    return value


# ------------------------------------------------------------------------------ the interface


class Provider(ABC):
    """A configured secret store. Methods are safe to call from several threads at once."""

    kind: ClassVar[str]
    label: ClassVar[str]
    fields: ClassVar[tuple[Field, ...]]

    def __init__(self, name: str, config: Mapping[str, Any]):
        if not PROVIDER_NAME.fullmatch(name or ""):
            raise ProviderConfigError({"name": "may only contain letters, digits, '_', '.' and '-'"}, name)
        self.name = name
        self.config = self.clean_config(config, provider=name)

    # -- configuration

    @classmethod
    def clean_config(cls, config: Mapping[str, Any], provider: str = "") -> dict[str, Any]:
        """Check and normalise a configuration; raises ProviderConfigError naming each bad field."""
        errors: dict[str, str] = {}
        known = {spec.name for spec in cls.fields}
        for name in config:
            if name not in known:
                errors[name] = f"unknown setting for a {cls.label} provider"
        cleaned: dict[str, Any] = {}
        for spec in cls.fields:  # in order, so `when` can look at the fields before it
            raw = config.get(spec.name)
            if raw is None or raw == "":
                value = spec.default
            else:
                try:
                    value = _clean_value(spec, raw)
                except ValueError as exc:
                    errors[spec.name] = str(exc)
                    continue
            if spec.applies(cleaned):
                if spec.required and (value is None or value == ""):
                    errors[spec.name] = "required"
                    continue
                cleaned[spec.name] = value
            else:
                cleaned[spec.name] = spec.default
        if not errors:
            cls.check_config(cleaned, errors)
        if errors:
            raise ProviderConfigError(errors, provider)
        return cleaned

    @classmethod
    def check_config(cls, config: dict[str, Any], errors: dict[str, str]) -> None:
        """Checks across fields, for subclasses: add messages to `errors` by field name."""
        return None

    @classmethod
    def split_config(cls, config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(settings, credentials): credentials are the secret fields, to be stored encrypted."""
        secret = {spec.name for spec in cls.fields if spec.secret}
        settings = {k: v for k, v in config.items() if k not in secret}
        credentials = {k: v for k, v in config.items() if k in secret}
        return settings, credentials

    # -- what a provider does

    def resolve(self, ref: SecretRef | str) -> SecretValue:
        """Read one secret value (the key of the document at the path, at the version)."""
        ref = as_reference(ref)
        return pick(self.name, ref, self.fetch(ref))

    def fetch(self, ref: SecretRef | str) -> SecretDocument:
        """Read the whole document at the reference's path and version (its key is ignored)."""
        ref = as_reference(ref)
        if ref.provider != self.name:
            raise InvalidReference(str(ref), f"it names provider {ref.provider!r}, not {self.name!r}")
        if ref.version:
            self.check_version(ref)
        return self._fetch(ref)

    @abstractmethod
    def _fetch(self, ref: SecretRef) -> SecretDocument: ...

    def check_version(self, ref: SecretRef) -> None:
        """Raise InvalidReference when this kind of store cannot have such a version."""
        return None

    @abstractmethod
    def test_connection(self) -> str:
        """Authenticate and reach the store; a one-line description on success, else a ProviderError."""

    @abstractmethod
    def list_paths(self, prefix: str = "") -> list[str]:
        """Secret paths under `prefix` for a picker (Vault folders end with '/')."""

    @abstractmethod
    def write(self, path: str, value: str | Mapping[str, str]) -> str:
        """Store a new version (admins only); returns the version written.

        A mapping is stored as keys (Vault) or as a JSON object (AWS, Azure), so that
        `#key` reads one of them back; a string is stored as it is (in Vault under `value`)."""

    def close(self) -> None:
        """Release connections and temporary files."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def pick(provider: str, ref: SecretRef, document: SecretDocument) -> SecretValue:
    """The value a reference names inside a document: `#key`, or the whole (or only) value."""
    data = document.data
    if isinstance(data, str):
        if not ref.key:
            return SecretValue(ref, data, document.version, document.encoding)
        try:
            data = json.loads(data)
        except ValueError:
            data = None  # the parser's message quotes the document: not to be shown
        if not isinstance(data, dict):
            raise NotFoundError(provider, ref, f"the secret is not a JSON object, so it has no key {ref.key!r}")
    if ref.key:
        if ref.key not in data:
            raise NotFoundError(provider, ref, f"the secret has no key {ref.key!r} (keys: {_key_list(data)})")
        value = data[ref.key]
    elif len(data) == 1:
        value = next(iter(data.values()))
    else:
        raise NotFoundError(provider, ref, f"name a key with '#key': the secret has keys {_key_list(data)}")
    text = value if isinstance(value, str) else json.dumps(value)
    return SecretValue(ref, text, document.version, document.encoding)


def _key_list(data: Mapping[str, Any]) -> str:
    names = sorted(data)
    return ", ".join(names[:20]) + (", ..." if len(names) > 20 else "") if names else "none"


ErrorMapper = Callable[[BaseException], "tuple[type[ProviderError], str] | None"]


def translate_errors(provider: str, ref: SecretRef | str | None, mapper: ErrorMapper) -> _Translate:
    """A context manager that turns a client library's exceptions into ProviderErrors:
    `mapper(exc)` gives (error class, detail), or None to let the exception through."""
    return _Translate(provider, ref, mapper)


class _Translate:
    def __init__(self, provider: str, ref: SecretRef | str | None, mapper: ErrorMapper):
        self.provider, self.ref, self.mapper = provider, ref, mapper

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None or isinstance(exc, SecretsError) or not isinstance(exc, Exception):
            return False
        mapped = self.mapper(exc)
        if mapped is None:
            return False
        cls, detail = mapped
        # The library's exception stays out of the chain: its text may quote a request body.
        raise cls(self.provider, self.ref, detail) from None
