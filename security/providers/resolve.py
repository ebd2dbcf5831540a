"""Resolving secrets when an attempt starts, and which workflows may use which provider.

A run gets one SecretResolver: it reads through a short in-memory cache (keyed by provider,
path and version, never written anywhere) so that the attempts of a run do not each go to the
store, hands every value it returns to the run's Masker before the task can print it, and
records what each attempt read (the lineage: provider, path, key, version, never a value).
Scopes are plain data: a provider lists the workflows (name patterns) and tags that may use it.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from .base import (
    InvalidReference,
    Provider,
    ProviderError,
    SecretDocument,
    SecretRef,
    SecretsError,
    SecretValue,
    as_reference,
    parse_reference,
    pick,
)
from .masking import Masker

DEFAULT_TTL_S = 60.0
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# ---------------------------------------------------------------------- cache


class SecretCache:
    """Documents read during one run, for `ttl` seconds. Two attempts that want the same path
    at once make one request (the second waits for the first)."""

    def __init__(self, ttl: float = DEFAULT_TTL_S, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str, str], tuple[float, SecretDocument]] = {}
        self._loading: dict[tuple[str, str, str], threading.Lock] = {}

    def get(self, key: tuple[str, str, str], load: Callable[[], SecretDocument]) -> tuple[SecretDocument, bool]:
        """(document, whether it came from the cache)."""
        hit = self._fresh(key)
        if hit is not None:
            return hit, True
        with self._lock:
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:
            hit = self._fresh(key)  # loaded by the thread we waited for
            if hit is not None:
                return hit, True
            try:
                document = load()  # a failure is not cached: the next attempt asks again
            finally:
                with self._lock:
                    self._loading.pop(key, None)
            with self._lock:
                if self.ttl > 0:
                    self._entries[key] = (self._clock() + self.ttl, document)
            return document, False

    def _fresh(self, key: tuple[str, str, str]) -> SecretDocument | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self._clock() >= entry[0]:
                del self._entries[key]
                return None
            return entry[1]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


# ---------------------------------------------------------------------- resolution


class UnknownProviderError(ProviderError):
    kind, cause = "unknown_provider", "no such provider"


class ScopeError(ProviderError):
    kind, cause = "scope", "not allowed"


class ResolutionError(SecretsError):
    """A secret an attempt needs could not be read; names the variable and the cause."""

    def __init__(self, env_name: str, error: SecretsError):
        self.env_name, self.error = env_name, error
        super().__init__(f"secret {env_name}: {error}")


@dataclass(frozen=True)
class Resolution:
    """One secret an attempt read: what lineage records (never the value)."""

    env: str
    ref: SecretRef
    version: str
    cached: bool

    def as_dict(self) -> dict[str, str | bool]:
        return {
            "env": self.env, "provider": self.ref.provider, "path": self.ref.path, "key": self.ref.key,
            "requested_version": self.ref.version, "version": self.version, "cached": self.cached,
        }  # fmt: skip


@dataclass
class ResolvedEnv:
    env: dict[str, str] = field(repr=False)
    resolutions: list[Resolution] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class SecretResolver:
    """Resolves references for one run. `providers` maps a name to a Provider, or is a callable
    that returns one (and may raise ScopeError or UnknownProviderError)."""

    def __init__(
        self,
        providers: Mapping[str, Provider] | Callable[[str], Provider],
        *,
        cache: SecretCache | None = None,
        masker: Masker | None = None,
    ):
        self._providers = providers
        self.cache = cache if cache is not None else SecretCache()
        self.masker = masker if masker is not None else Masker()

    def provider(self, name: str) -> Provider:
        if callable(self._providers):
            return self._providers(name)
        try:
            return self._providers[name]
        except KeyError:
            raise UnknownProviderError(name, None, f"no secret provider is named {name!r}") from None

    def resolve(self, ref: SecretRef | str) -> tuple[SecretValue, bool]:
        """(value, whether it came from the cache); the value is masked from now on."""
        ref = as_reference(ref)
        provider = self.provider(ref.provider)
        document, cached = self.cache.get((ref.provider, ref.path, ref.version), lambda: provider.fetch(ref))
        value = pick(provider.name, ref, document)
        if "\0" in value.value:
            raise ProviderError(
                ref.provider, ref, "the value contains a NUL character, which no environment variable can hold"
            )
        return value, cached

    def resolve_env(self, secrets: Mapping[str, str]) -> ResolvedEnv:
        """Resolve a task's `secrets:` (variable name to reference) into environment variables.
        Every value is added to the masker before this returns; raises ResolutionError."""
        env: dict[str, str] = {}
        resolutions: list[Resolution] = []
        labels: list[tuple[str, str]] = []
        for env_name, text in secrets.items():
            try:
                if not ENV_NAME.fullmatch(env_name):
                    raise InvalidReference(text, f"{env_name!r} is not a valid environment variable name")
                value, cached = self.resolve(text)
            except SecretsError as exc:
                # What was read so far is masked all the same: the attempt fails, the values stay secret.
                self.masker.add_many(labels)
                raise ResolutionError(env_name, exc) from None
            env[env_name] = value.value
            resolutions.append(Resolution(env_name, value.ref, value.version, cached))
            labels.append((value.value, f"{env_name} ({value.ref})"))
        warnings = [w for w in self.masker.add_many(labels) if w]
        return ResolvedEnv(env, resolutions, warnings)


# ---------------------------------------------------------------------- scope


def _patterns(value: str | Iterable[str]) -> tuple[str, ...]:
    items = re.split(r"[,\n]", value) if isinstance(value, str) else list(value)
    return tuple(dict.fromkeys(item.strip() for item in items if item and item.strip()))


@dataclass(frozen=True)
class Scope:
    """Which runs may use a provider: workflows whose name matches a pattern (`etl_*`, `*` for
    all), or that carry a tag (`env=prod`, `env=prod-*`, or `team` with any value). Empty: none.

    A workflow's name and tags are written in its file: the secrets extension lets only admins
    bring a workflow into a scope that is not open to all (SecretsExtension.refuse_save)."""

    workflows: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @classmethod
    def parse(cls, workflows: str | Iterable[str] = (), tags: str | Iterable[str] = ()) -> Scope:
        """From form fields (comma- or line-separated); raises ValueError naming a bad entry."""
        scope = cls(_patterns(workflows), _patterns(tags))
        for tag in scope.tags:
            key = tag.partition("=")[0].strip()
            if not key or not re.fullmatch(r"[A-Za-z0-9_.:/-]+", key):
                raise ValueError(f"tag {tag!r}: expected key or key=value")
        return scope

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Scope:
        data = data or {}
        return cls.parse(data.get("workflows", ()), data.get("tags", ()))

    def as_dict(self) -> dict[str, list[str]]:
        return {"workflows": list(self.workflows), "tags": list(self.tags)}

    def allows(self, workflow: str, tags: Mapping[str, Any] | None = None) -> bool:
        if any(fnmatchcase(workflow, pattern) for pattern in self.workflows):
            return True
        tags = tags or {}
        for tag in self.tags:
            key, eq, pattern = tag.partition("=")
            if key in tags and (not eq or fnmatchcase(_tag_text(tags[key]), pattern)):
                return True
        return False

    def describe(self) -> str:
        parts = []
        if self.workflows:
            parts.append("workflows " + ", ".join(self.workflows))
        if self.tags:
            parts.append("tags " + ", ".join(self.tags))
        return "; ".join(parts) if parts else "no workflow"


def _tag_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_scopes(
    references: Mapping[str, str], scopes: Mapping[str, Scope], workflow: str, tags: Mapping[str, Any] | None = None
) -> list[str]:
    """Why a run may not start, one line per reference that breaks a rule (empty: it may).

    `references` maps where a reference is written (`load.secrets.DB_PASSWORD`) to its text;
    `scopes` holds every provider that exists, by name."""
    problems = []
    for where, text in references.items():
        try:
            ref = parse_reference(text)
        except InvalidReference as exc:
            problems.append(f"{where}: {exc}")
            continue
        scope = scopes.get(ref.provider)
        if scope is None:
            problems.append(f"{where}: no secret provider is named {ref.provider!r}")
        elif not scope.allows(workflow, tags):
            problems.append(
                f"{where}: workflow {workflow!r} may not use secret provider {ref.provider!r} "
                f"(it is open to {scope.describe()})"
            )
    return problems
