"""Azure Key Vault secrets through azure-keyvault-secrets and azure-identity.

A vault URL; a service principal's client secret, or the workers' default credential chain
(environment, managed identity, Azure CLI ...). A reference's path is the secret's name, `@` its
version id, `#key` one key of a value that holds a JSON object. `authority_host`,
`disable_instance_discovery` and `verify_challenge_resource` exist for sovereign clouds and
private endpoints, and so that the tests can point the SDK at a local server.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Mapping
from typing import Any

try:  # the `azure` extra: without it the kind is listed, and building one says what to install
    import azure.core.exceptions as az
    from azure.identity import ClientSecretCredential, DefaultAzureCredential
    from azure.keyvault.secrets import SecretClient
except ImportError:  # pragma: no cover - the test environment installs the extra
    az = None  # type: ignore[assignment]

from .base import (
    AuthenticationError,
    Field,
    InvalidReference,
    NotFoundError,
    PermissionDeniedError,
    Provider,
    ProviderConfigError,
    ProviderError,
    SecretDocument,
    SecretRef,
    TLSError,
    UnreachableError,
    translate_errors,
)

SECRET_NAME = re.compile(r"[0-9A-Za-z-]{1,127}")
VERSION = re.compile(r"[0-9A-Za-z]{1,64}")


class AzureProvider(Provider):
    kind = "azure"
    label = "Azure Key Vault"
    fields = (
        Field("vault_url", "Vault URL", required=True, help="https://<vault-name>.vault.azure.net"),
        Field("auth", "Credentials", type="choice", default="client_secret", choices=(
            ("client_secret", "Service principal (client secret)"),
            ("default", "The workers' default credential chain (managed identity, environment, ...)"),
        )),
        Field("tenant_id", "Tenant ID", required=True, when={"auth": ("client_secret",)}),
        Field("client_id", "Client ID", required=True, when={"auth": ("client_secret",)}),
        Field("client_secret", "Client secret", type="secret", required=True, when={"auth": ("client_secret",)}),
        Field("authority_host", "Authority host", help="optional, e.g. https://login.microsoftonline.us"),
        Field("disable_instance_discovery", "Disable instance discovery", type="bool", default=False,
              help="for an authority Microsoft Entra does not know (Azure Stack, a private cloud)"),
        Field("verify_challenge_resource", "Verify the challenge resource", type="bool", default=True,
              help="check that the vault's auth challenge names a resource in the vault's own domain"),
        Field("ca_cert", "CA certificate (PEM)", type="pem"),
        Field("timeout", "Timeout (seconds)", type="int", default=10),
    )  # fmt: skip

    @classmethod
    def check_config(cls, config: dict[str, Any], errors: dict[str, str]) -> None:
        # The SDK sends bearer tokens over TLS only.
        if not re.match(r"https://[^/\s]+", config["vault_url"]):
            errors["vault_url"] = "expected https:// and the vault's host"
        config["vault_url"] = config["vault_url"].rstrip("/")
        if config["authority_host"] and not re.match(r"https://[^/\s]+", config["authority_host"]):
            errors["authority_host"] = "expected https:// and a host"
        if not 1 <= config["timeout"] <= 300:
            errors["timeout"] = "between 1 and 300 seconds"

    def __init__(self, name: str, config: Mapping[str, Any]):
        if az is None:
            raise ProviderConfigError(
                {"kind": "needs the azure extra: pip install 'script-runner[azure]' (azure-keyvault-secrets, "
                 "azure-identity)"}, name,
            )  # fmt: skip
        super().__init__(name, config)
        self._lock = threading.Lock()
        self._client: SecretClient | None = None
        self._credential: Any = None
        self._ca_file: str | None = None

    def _transport_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "connection_timeout": self.config["timeout"],
            "read_timeout": self.config["timeout"],
            "retry_total": 1,
        }
        if self.config["ca_cert"]:
            if self._ca_file is None:
                fd, self._ca_file = tempfile.mkstemp(prefix="azure-ca-", suffix=".pem")
                with os.fdopen(fd, "w") as fh:
                    fh.write(self.config["ca_cert"])
            options["connection_verify"] = self._ca_file
        return options

    def _ready(self) -> SecretClient:
        with self._lock:
            if self._client is None:
                c = self.config
                options = self._transport_options()
                identity = dict(options)
                if c["authority_host"]:
                    identity["authority"] = c["authority_host"]
                if c["disable_instance_discovery"]:
                    identity["disable_instance_discovery"] = True
                if c["auth"] == "client_secret":
                    self._credential = ClientSecretCredential(
                        c["tenant_id"], c["client_id"], c["client_secret"], **identity
                    )
                else:
                    self._credential = DefaultAzureCredential(**identity)
                self._client = SecretClient(
                    c["vault_url"], self._credential,
                    verify_challenge_resource=c["verify_challenge_resource"], **options,
                )  # fmt: skip
            return self._client

    def check_version(self, ref: SecretRef) -> None:
        if not VERSION.fullmatch(ref.version):
            raise InvalidReference(str(ref), "a Key Vault version is the 32-character id the vault gave it")

    def _fetch(self, ref: SecretRef) -> SecretDocument:
        if not SECRET_NAME.fullmatch(ref.path):
            raise InvalidReference(str(ref), "a Key Vault secret name has only letters, digits and '-'")
        client = self._ready()
        with translate_errors(self.name, ref, self._map):
            secret = client.get_secret(ref.path, ref.version or None)
        return SecretDocument(secret.value or "", secret.properties.version or "")

    def test_connection(self) -> str:
        client = self._ready()
        with translate_errors(self.name, None, self._map):
            try:
                next(iter(client.list_properties_of_secrets(max_page_size=1)), None)
            except az.HttpResponseError as exc:
                if exc.status_code != 403:
                    raise
                return f"authenticated at {self.config['vault_url']}; this identity may not list secrets (no picker)"
        return f"authenticated at {self.config['vault_url']}"

    def list_paths(self, prefix: str = "") -> list[str]:
        client = self._ready()
        names: list[str] = []
        with translate_errors(self.name, None, self._map):
            for props in client.list_properties_of_secrets():
                if props.name and props.name.startswith(prefix):
                    names.append(props.name)
                if len(names) >= 1000:
                    break
        return sorted(names)

    def write(self, path: str, value: str | Mapping[str, str]) -> str:
        if not SECRET_NAME.fullmatch(path):
            raise InvalidReference(f"{self.name}:{path}", "a Key Vault secret name has only letters, digits and '-'")
        client = self._ready()
        text = value if isinstance(value, str) else json.dumps(dict(value))
        with translate_errors(self.name, f"{self.name}:{path}", self._map):
            return client.set_secret(path, text).properties.version or ""

    def close(self) -> None:
        with self._lock:
            for thing in (self._client, self._credential):
                if thing is not None:
                    with contextlib.suppress(Exception):
                        thing.close()
            self._client = self._credential = None
            if self._ca_file is not None:
                with contextlib.suppress(OSError):
                    os.unlink(self._ca_file)
                self._ca_file = None

    def _map(self, exc: BaseException) -> tuple[type[ProviderError], str] | None:
        url = self.config["vault_url"]
        text = str(exc)
        if isinstance(exc, az.AzureError) and ("[SSL" in text or "CERTIFICATE_VERIFY_FAILED" in text):
            # Also when the token request is what failed: azure-identity reports that as an
            # authentication error, but the cause is the certificate.
            found = re.search(r"\[SSL[^\]]*\]\s*([^'\"()]+)", text)
            return TLSError, found.group(1).strip() if found else "TLS handshake failed"
        if isinstance(exc, az.ClientAuthenticationError):
            # azure-identity's message: "<Credential>.get_token failed: <what the authority said>".
            return AuthenticationError, _first_line(exc)
        if isinstance(exc, az.ResourceNotFoundError):
            return NotFoundError, _first_line(exc)
        if isinstance(exc, az.HttpResponseError):
            if exc.status_code == 403:
                return PermissionDeniedError, _first_line(exc)
            if exc.status_code == 401:
                return AuthenticationError, _first_line(exc)
            return ProviderError, _first_line(exc)
        if isinstance(exc, az.ServiceRequestError | az.ServiceResponseError):
            if isinstance(exc, az.ServiceRequestError):
                return UnreachableError, f"cannot connect to {url}"
            return UnreachableError, f"{url} closed the connection or did not answer in time"
        if isinstance(exc, az.AzureError):
            return ProviderError, _first_line(exc)
        return None


def _first_line(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc)
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    # Key Vault's JSON errors arrive as "(Code) message" then "Code: ..." / "Message: ..." lines.
    return lines[0] if lines else type(exc).__name__
