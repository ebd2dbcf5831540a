"""A local Azure Key Vault and Microsoft Entra token endpoint, for the Azure provider's tests.

No Key Vault emulator exists, so this server speaks the parts of the real wire protocol that
the SDK (azure-keyvault-secrets + azure-identity) uses, over HTTPS with a throwaway CA made in
the test with `cryptography` (the SDK refuses to send a bearer token over plain HTTP):

- Key Vault: a request without a token gets 401 with `WWW-Authenticate: Bearer
  authorization="<authority>/<tenant>", resource="https://vault.azure.net"` (the challenge);
  `GET /secrets/{name}/{version}?api-version=…` (no version: the latest), `PUT /secrets/{name}`,
  `GET /secrets` (a page of names); 404 `SecretNotFound`, 403 `Forbidden` for a name or a list
  the test denies.
- Entra: `/{tenant}/v2.0/.well-known/openid-configuration` and the client-credentials token
  endpoint `/{tenant}/oauth2/v2.0/token`, which checks the client id and secret.

The client points its authority here with `disable_instance_discovery=True` (Entra's instance
discovery would ask login.microsoftonline.com) and passes `verify_challenge_resource=False`:
the challenge names vault.azure.net, which a loopback vault URL is not a subdomain of.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

API_VERSIONS_SEEN: set[str] = set()


class ThrowawayCA:
    """A CA and a certificate for 127.0.0.1 / localhost signed by it, as PEM files in `dir`."""

    def __init__(self, directory: Path, common_name: str = "Throwaway test CA"):
        self.dir = directory
        now = dt.datetime.now(dt.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )  # fmt: skip
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )  # fmt: skip
        self.ca_pem = ca.public_bytes(serialization.Encoding.PEM).decode()
        self.ca_file = directory / "ca.pem"
        self.cert_file = directory / "server.pem"
        self.key_file = directory / "server.key"
        self.ca_file.write_text(self.ca_pem)
        self.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )


class KeyVaultServer:
    """One vault and one tenant with one service principal, on a free loopback port."""

    RESOURCE = "https://vault.azure.net"

    def __init__(
        self, tenant: str = "test-tenant", client_id: str = "test-app", client_secret: str = "app-s3cret-value"
    ):
        self.tenant, self.client_id, self.client_secret = tenant, client_id, client_secret
        self.dir = Path(tempfile.mkdtemp(prefix="keyvault-"))
        self.ca = ThrowawayCA(self.dir)
        self.secrets: dict[str, list[tuple[str, str, int]]] = {}  # name -> [(version, value, created)]
        self.denied: set[str] = set()  # names whose reads get 403
        self.deny_list = False
        self.tokens: set[str] = set()
        self.token_requests = 0
        self.requests: list[tuple[str, str]] = []  # (method, path) of every vault request
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca.cert_file, self.ca.key_file)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="keyvault", daemon=True)
        self._thread.start()

    def set_secret(self, name: str, value: str) -> str:
        version = uuid.uuid4().hex
        with self._lock:
            self.secrets.setdefault(name, []).append((version, value, int(time.time())))
        return version

    def provider_config(self, **overrides: Any) -> dict[str, Any]:
        """What an admin would enter to reach this vault, plus the loopback-only switches."""
        config = {
            "vault_url": self.url, "auth": "client_secret", "tenant_id": self.tenant, "client_id": self.client_id,
            "client_secret": self.client_secret, "authority_host": self.url, "disable_instance_discovery": True,
            "verify_challenge_resource": False, "ca_cert": self.ca.ca_pem, "timeout": 5,
        }  # fmt: skip
        config.update(overrides)
        return config

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(server: KeyVaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep the test output clean
            return None

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        # ---------------------------------------------------------------- Entra

        def _entra(self, parts: list[str]) -> bool:
            if (
                len(parts) >= 2
                and parts[0] == server.tenant
                and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]
            ):
                base = f"{server.url}/{server.tenant}"
                self._send(200, {
                    "token_endpoint": f"{base}/oauth2/v2.0/token", "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode", "issuer": f"{base}/v2.0",
                    "token_endpoint_auth_methods_supported": ["client_secret_post"],
                })  # fmt: skip
                return True
            if parts == [server.tenant, "oauth2", "v2.0", "token"] and self.command == "POST":
                form = {k: v[0] for k, v in parse_qs(self.body.decode()).items()}
                with server._lock:
                    server.token_requests += 1
                if form.get("grant_type") != "client_credentials" or form.get("client_id") != server.client_id:
                    self._send(
                        400,
                        {"error": "unauthorized_client", "error_description": "AADSTS700016: Application not found."},
                    )
                elif form.get("client_secret") != server.client_secret:
                    self._send(401, {
                        "error": "invalid_client", "error_codes": [7000215],
                        "error_description": "AADSTS7000215: Invalid client secret provided.",
                    })  # fmt: skip
                else:
                    token = uuid.uuid4().hex
                    with server._lock:
                        server.tokens.add(token)
                    self._send(
                        200, {"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": token}
                    )
                return True
            return False

        # ---------------------------------------------------------------- Key Vault

        def _authorized(self) -> bool:
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Bearer ") and auth[7:] in server.tokens:
                return True
            challenge = f'Bearer authorization="{server.url}/{server.tenant}", resource="{server.RESOURCE}"'
            self._send(401, {"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}},
                       {"WWW-Authenticate": challenge})  # fmt: skip
            return False

        def _bundle(self, name: str, version: str, value: str, created: int) -> dict[str, Any]:
            return {
                "value": value, "id": f"{server.url}/secrets/{name}/{version}",
                "attributes": {"enabled": True, "created": created, "updated": created, "recoveryLevel": "Recoverable+Purgeable"},
            }  # fmt: skip

        def _vault(self, parts: list[str], query: dict[str, list[str]]) -> None:
            if "api-version" not in query:
                self._send(400, {"error": {"code": "BadParameter", "message": "api-version is required"}})
                return
            API_VERSIONS_SEEN.add(query["api-version"][0])
            if not self._authorized():
                return
            with server._lock:
                server.requests.append((self.command, "/" + "/".join(parts)))
            if parts == ["secrets"] and self.command == "GET":
                if server.deny_list:
                    self._forbidden("list")
                    return
                items = [
                    {"id": f"{server.url}/secrets/{name}", "attributes": {"enabled": True}}
                    for name in sorted(server.secrets)
                ]
                self._send(200, {"value": items, "nextLink": None})
                return
            name = parts[1] if len(parts) >= 2 else ""
            if self.command == "PUT" and len(parts) == 2:
                value = json.loads(self.body or b"{}").get("value", "")
                version = server.set_secret(name, value)
                self._send(200, self._bundle(name, version, value, int(time.time())))
                return
            if self.command == "GET" and len(parts) in (2, 3):
                if name in server.denied:
                    self._forbidden("get")
                    return
                versions = server.secrets.get(name, [])
                wanted = parts[2] if len(parts) == 3 and parts[2] else None
                found = [v for v in versions if v[0] == wanted] if wanted else versions[-1:]
                if not found:
                    shown = f"{name}/{wanted}" if wanted else name
                    self._send(404, {"error": {
                        "code": "SecretNotFound",
                        "message": f"A secret with (name/id) {shown} was not found in this key vault. If you recently "
                                   f"deleted this secret you may be able to recover it using the correct recovery command.",
                    }})  # fmt: skip
                    return
                version, value, created = found[0]
                self._send(200, self._bundle(name, version, value, created))
                return
            self._send(405, {"error": {"code": "MethodNotAllowed", "message": "not supported by this test server"}})

        def _forbidden(self, operation: str) -> None:
            self._send(403, {"error": {
                "code": "Forbidden",
                "message": f"The user, group or application 'appid={server.client_id}' does not have secrets {operation} "
                           f"permission on key vault 'test-vault'.",
                "innererror": {"code": "AccessDenied"},
            }})  # fmt: skip

        def _route(self) -> None:
            # Read any body first (a challenge request may carry one) so the connection stays usable.
            length = int(self.headers.get("Content-Length") or 0)
            self.body = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            parts = [p for p in url.path.split("/") if p]
            if parts and parts[0] == "secrets":
                self._vault(parts, parse_qs(url.query))
            elif not self._entra(parts):
                self._send(404, {"error": "not_found"})

        do_GET = do_PUT = do_POST = _route

    return Handler
