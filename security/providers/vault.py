"""HashiCorp Vault (and OpenBao, which speaks the same API) through hvac.

Token or AppRole auth, KV version 2 (versioned) or 1 mounts, namespaces, a CA bundle or no
verification. An AppRole token is renewed by logging in again shortly before its TTL runs out,
and once more when the server turns a token down (expired or revoked early). hvac raises its own
exceptions for answers from the server and lets requests' through for the rest (nothing
listening, TLS): both are mapped to this package's errors.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import hvac
import hvac.exceptions as hv
import requests.exceptions as rq

from .base import (
    AuthenticationError,
    Field,
    InvalidReference,
    NotFoundError,
    PermissionDeniedError,
    Provider,
    ProviderError,
    SealedError,
    SecretDocument,
    SecretRef,
    TLSError,
    UnreachableError,
    translate_errors,
)

T = TypeVar("T")
# Log in again when this little of the token's TTL is left (or a tenth of it, if shorter).
RELOGIN_MARGIN_S = 30.0


class VaultProvider(Provider):
    kind = "vault"
    label = "HashiCorp Vault"
    fields = (
        Field("url", "Address", required=True, help="e.g. https://vault.example.com:8200"),
        Field("namespace", "Namespace", help="Vault Enterprise / OpenBao namespace, e.g. team-a/"),
        Field("mount", "KV mount", default="secret", help="the secrets engine path; references are relative to it"),
        Field("kv_version", "KV version", type="choice", default="2", choices=(("2", "2 (versioned)"), ("1", "1"))),
        Field("auth", "Authentication", type="choice", default="token", choices=(("token", "Token"), ("approle", "AppRole"))),
        Field("token", "Token", type="secret", required=True, when={"auth": ("token",)}),
        Field("role_id", "Role ID", required=True, when={"auth": ("approle",)}),
        Field("secret_id", "Secret ID", type="secret", required=True, when={"auth": ("approle",)}),
        Field("approle_mount", "AppRole mount", default="approle", when={"auth": ("approle",)}),
        Field("ca_cert", "CA certificate (PEM)", type="pem", help="trust this CA instead of the system's"),
        Field("ca_path", "CA bundle file", help="a PEM file on the workers, instead of pasting it"),
        Field("verify_tls", "Verify TLS certificates", type="bool", default=True),
        Field("timeout", "Timeout (seconds)", type="int", default=10),
    )  # fmt: skip

    @classmethod
    def check_config(cls, config: dict[str, Any], errors: dict[str, str]) -> None:
        if not re.match(r"https?://[^/\s]+", config["url"]):
            errors["url"] = "expected http:// or https:// and a host"
        config["url"] = config["url"].rstrip("/")
        config["mount"] = (config["mount"] or "").strip("/")
        if not config["mount"]:
            errors["mount"] = "required"
        if config["ca_cert"] and config["ca_path"]:
            errors["ca_path"] = "give the CA certificate or a file, not both"
        if not 1 <= config["timeout"] <= 300:
            errors["timeout"] = "between 1 and 300 seconds"

    def __init__(self, name: str, config: Mapping[str, Any]):
        super().__init__(name, config)
        self._lock = threading.Lock()
        self._client: hvac.Client | None = None
        self._expires_at: float | None = None  # monotonic; None: no token yet or one that never expires
        self._ca_file: str | None = None

    # ------------------------------------------------------------------ client and login

    @property
    def _approle(self) -> bool:
        return self.config["auth"] == "approle"

    @property
    def _v2(self) -> bool:
        return self.config["kv_version"] == "2"

    def _verify(self) -> bool | str:
        if self.config["ca_cert"]:
            if self._ca_file is None:
                # requests wants a file; a private one, removed by close().
                fd, self._ca_file = tempfile.mkstemp(prefix="vault-ca-", suffix=".pem")
                with os.fdopen(fd, "w") as fh:
                    fh.write(self.config["ca_cert"])
            return self._ca_file
        if self.config["ca_path"]:
            return self.config["ca_path"]
        return bool(self.config["verify_tls"])

    def _ready_client(self, ref: SecretRef | str | None, relogin: bool = False) -> hvac.Client:
        with self._lock:
            if self._client is None:
                self._client = hvac.Client(
                    url=self.config["url"],
                    token=None if self._approle else self.config["token"],
                    namespace=self.config["namespace"] or None,
                    verify=self._verify(),
                    timeout=self.config["timeout"],
                )
                relogin = self._approle
            elif self._approle and self._expires_at is not None and time.monotonic() >= self._expires_at:
                relogin = True
            if relogin and self._approle:
                self._login(self._client, ref)
            return self._client

    def _login(self, client: hvac.Client, ref: SecretRef | str | None) -> None:
        def mapper(exc: BaseException) -> tuple[type[ProviderError], str] | None:
            if isinstance(exc, hv.InvalidRequest | hv.Unauthorized | hv.Forbidden):
                return AuthenticationError, f"AppRole login refused: {_message(exc)}"
            if isinstance(exc, hv.InvalidPath):
                return AuthenticationError, f"no AppRole auth mounted at {self.config['approle_mount']!r}"
            return _map_error(exc, self.config)

        with translate_errors(self.name, ref, mapper):
            answer = client.auth.approle.login(
                role_id=self.config["role_id"], secret_id=self.config["secret_id"],
                mount_point=self.config["approle_mount"], use_token=True,
            )  # fmt: skip
        lease = float((answer.get("auth") or {}).get("lease_duration") or 0)
        self._expires_at = time.monotonic() + lease - min(RELOGIN_MARGIN_S, lease / 10) if lease > 0 else None

    def _call(self, ref: SecretRef | str | None, action: Callable[[hvac.Client], T], what: Callable[[], str]) -> T:
        """Run one request; on a refused token, log in again (AppRole) once, or say why (token)."""
        client = self._ready_client(ref)
        mapper = _mapper(self.config, what)
        try:
            with translate_errors(self.name, ref, mapper):
                return action(client)
        except PermissionDeniedError:
            if self._approle:
                # An expired or revoked AppRole token looks the same as a policy that denies.
                client = self._ready_client(ref, relogin=True)
                with translate_errors(self.name, ref, mapper):
                    return action(client)
            if not self._token_valid(client):
                raise AuthenticationError(self.name, ref, "the token is invalid, expired or revoked") from None
            raise

    def _token_valid(self, client: hvac.Client) -> bool:
        try:
            client.auth.token.lookup_self()
        except hv.VaultError:
            return False
        except rq.RequestException:
            return True  # cannot tell: keep the original cause
        return True

    # ------------------------------------------------------------------ the interface

    def check_version(self, ref: SecretRef) -> None:
        if not self._v2:
            raise InvalidReference(str(ref), f"{self.name} reads a KV version 1 mount, which keeps no versions")
        if not ref.version.isdigit() or int(ref.version) < 1:
            raise InvalidReference(str(ref), "a Vault KV version is a number from 1 up")

    def _fetch(self, ref: SecretRef) -> SecretDocument:
        path = ref.path.strip("/")
        mount = self.config["mount"]
        shown = f"{mount}/{path}" + (f" version {ref.version}" if ref.version else "")

        if self._v2:

            def read(client: hvac.Client) -> SecretDocument:
                answer = client.secrets.kv.v2.read_secret_version(
                    path=path, version=int(ref.version) if ref.version else None, mount_point=mount,
                    raise_on_deleted_version=True,
                )  # fmt: skip
                body = answer["data"]
                return SecretDocument(body["data"] or {}, str(body["metadata"]["version"]))

        else:

            def read(client: hvac.Client) -> SecretDocument:
                return SecretDocument(client.secrets.kv.v1.read_secret(path=path, mount_point=mount)["data"] or {})

        return self._call(ref, read, lambda: f"no secret at {shown}")

    def test_connection(self) -> str:
        client = self._ready_client(None)
        who = "AppRole" if self._approle else "token"
        with translate_errors(self.name, None, _mapper(self.config, lambda: "")):
            if not self._approle:
                try:
                    client.auth.token.lookup_self()
                except hv.Forbidden:
                    raise AuthenticationError(self.name, None, "the token is invalid, expired or revoked") from None
            mount = self.config["mount"]
            try:
                info = client.adapter.get(f"/v1/sys/internal/ui/mounts/{mount}")
            except hv.Forbidden:
                return f"authenticated ({who}) at {self.config['url']}; this identity cannot see mount {mount}/"
            except hv.InvalidPath:
                raise NotFoundError(self.name, None, f"no secrets engine mounted at {mount}/") from None
        data = info.get("data") or {}
        actual = str((data.get("options") or {}).get("version") or "1")
        if data.get("type") not in ("kv", "generic"):
            raise ProviderError(self.name, None, f"{mount}/ is a {data.get('type')} engine, not KV")
        if actual != self.config["kv_version"]:
            raise ProviderError(
                self.name,
                None,
                f"{mount}/ is KV version {actual}, but the provider is set to version {self.config['kv_version']}",
            )
        return f"authenticated ({who}) at {self.config['url']}; {mount}/ is KV version {actual}"

    def list_paths(self, prefix: str = "") -> list[str]:
        folder, _, partial = prefix.lstrip("/").rpartition("/")
        folder = folder.strip("/")
        mount = self.config["mount"]
        engine = "v2" if self._v2 else "v1"

        def listing(client: hvac.Client) -> list[str]:
            try:
                answer = getattr(client.secrets.kv, engine).list_secrets(path=folder, mount_point=mount)
            except hv.InvalidPath:
                return []
            keys = (answer.get("data") or {}).get("keys") or []
            base = f"{folder}/" if folder else ""
            return sorted(base + key for key in keys if key.startswith(partial))

        return self._call(None, listing, lambda: f"nothing at {mount}/{folder}")

    def write(self, path: str, value: str | Mapping[str, str]) -> str:
        path = path.strip("/")
        secret = {"value": value} if isinstance(value, str) else dict(value)
        mount = self.config["mount"]
        engine = "v2" if self._v2 else "v1"

        def put(client: hvac.Client) -> str:
            answer = getattr(client.secrets.kv, engine).create_or_update_secret(
                path=path, secret=secret, mount_point=mount
            )
            if self._v2:
                return str(answer["data"]["version"])
            return ""

        return self._call(f"{self.name}:{path}", put, lambda: f"cannot write {mount}/{path}")

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.adapter.close()
                self._client = None
            if self._ca_file is not None:
                with contextlib.suppress(OSError):
                    os.unlink(self._ca_file)
                self._ca_file = None


# ---------------------------------------------------------------------- error mapping


def _message(exc: BaseException) -> str:
    # hvac's str() appends the method and URL; the server's own words are in args[0].
    text = str(exc.args[0] if exc.args and exc.args[0] else type(exc).__name__)
    # Vault wraps some errors as "1 error occurred:\n\t* permission denied\n\n".
    items = [line.strip()[2:] for line in text.splitlines() if line.strip().startswith("* ")]
    return "; ".join(items) if items else text.strip()


def _mapper(config: Mapping[str, Any], not_found: Callable[[], str]):
    def mapper(exc: BaseException) -> tuple[type[ProviderError], str] | None:
        if isinstance(exc, hv.InvalidPath):
            deleted = ((getattr(exc, "json", None) or {}).get("data") or {}).get("metadata") or {}
            if deleted.get("destroyed") or deleted.get("deletion_time"):
                return NotFoundError, f"{not_found()} (that version was deleted)"
            return NotFoundError, not_found()
        return _map_error(exc, config)

    return mapper


_SSL_REASON = re.compile(r"\[SSL[^\]]*\]\s*([^'\"()]+)")
_CONNECT_REASON = re.compile(r"(Connection refused|Name or service not known|No route to host|timed out|"
                             r"Temporary failure in name resolution|Connection reset by peer|Network is unreachable)")  # fmt: skip


def _map_error(exc: BaseException, config: Mapping[str, Any]) -> tuple[type[ProviderError], str] | None:
    url = config["url"]
    if isinstance(exc, rq.SSLError):  # before ConnectionError: it is one
        reason = _SSL_REASON.search(str(exc))
        return TLSError, f"{url}: {reason.group(1).strip() if reason else 'TLS handshake failed'}"
    if isinstance(exc, rq.ConnectionError):
        reason = _CONNECT_REASON.search(str(exc))
        return UnreachableError, f"cannot connect to {url}" + (f": {reason.group(1).lower()}" if reason else "")
    if isinstance(exc, rq.Timeout):
        return UnreachableError, f"{url} did not answer within {config['timeout']} s"
    if isinstance(exc, rq.RequestException):
        return UnreachableError, f"{url}: {type(exc).__name__}"
    if isinstance(exc, hv.VaultDown):
        if "sealed" in _message(exc).lower():
            return SealedError, f"{url} is sealed: an operator must unseal it"
        return UnreachableError, f"{url} is not serving requests (503: {_message(exc)})"
    if isinstance(exc, hv.VaultNotInitialized):
        return SealedError, f"{url} is not initialized"
    if isinstance(exc, hv.Unauthorized):
        return AuthenticationError, _message(exc)
    if isinstance(exc, hv.Forbidden):
        return PermissionDeniedError, _message(exc)
    if isinstance(exc, hv.InvalidRequest) and "HTTP request to an HTTPS server" in _message(exc):
        return TLSError, f"{url} expects https://"
    if isinstance(exc, hv.VaultError):
        return ProviderError, _message(exc)
    return None
