"""AWS Secrets Manager through boto3.

Credentials from access keys, a named profile or the default chain, optionally exchanged for a
role's (STS AssumeRole, assumed again before those expire). A reference's path is the secret's
name or ARN; `#key` reads one key of a JSON SecretString; `@AWSPREVIOUS` (any staging label) or
`@<version id>` picks a version. A SecretBinary that is UTF-8 text is returned as text, other
bytes as base64 (SecretValue.encoding says which). Errors are told apart by AWS's error codes.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import re
import tempfile
import threading
from collections.abc import Mapping
from typing import Any

import boto3
import botocore.exceptions as bx
from botocore.config import Config

from .base import (
    AuthenticationError,
    Field,
    NotFoundError,
    PermissionDeniedError,
    Provider,
    ProviderError,
    SecretDocument,
    SecretRef,
    TLSError,
    UnreachableError,
    translate_errors,
)

# AWS version ids are UUIDs; anything else after '@' is a staging label (AWSCURRENT, AWSPREVIOUS, ...).
VERSION_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Assume the role again when its credentials have less than this left.
ROLE_REFRESH_MARGIN = dt.timedelta(minutes=5)

AUTH_CODES = {
    "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException", "SignatureDoesNotMatch",
    "ExpiredTokenException", "ExpiredToken", "IncompleteSignature", "MissingAuthenticationToken",
    "InvalidAccessKeyId", "AuthFailure",
}  # fmt: skip
PERMISSION_CODES = {"AccessDeniedException", "AccessDenied", "UnauthorizedOperation"}
NOT_FOUND_CODES = {"ResourceNotFoundException"}


class AwsProvider(Provider):
    kind = "aws"
    label = "AWS Secrets Manager"
    fields = (
        Field("region", "Region", required=True, help="e.g. eu-west-1"),
        Field("auth", "Credentials", type="choice", default="keys", choices=(
            ("keys", "Access keys"), ("profile", "A named profile on the workers"),
            ("default", "The workers' default credential chain (environment, instance role, ...)"),
        )),
        Field("access_key_id", "Access key ID", required=True, when={"auth": ("keys",)}),
        Field("secret_access_key", "Secret access key", type="secret", required=True, when={"auth": ("keys",)}),
        Field("session_token", "Session token", type="secret", when={"auth": ("keys",)}),
        Field("profile", "Profile", required=True, when={"auth": ("profile",)}),
        Field("role_arn", "Role to assume", help="optional: arn:aws:iam::123456789012:role/reader"),
        Field("external_id", "External ID", help="when the role's trust policy asks for one"),
        Field("role_session_name", "Role session name", default="script-runner"),
        Field("endpoint_url", "Endpoint URL", help="optional: a VPC endpoint or a compatible server"),
        Field("sts_endpoint_url", "STS endpoint URL", help="optional; defaults to the endpoint URL when that is set"),
        Field("ca_cert", "CA certificate (PEM)", type="pem"),
        Field("verify_tls", "Verify TLS certificates", type="bool", default=True),
        Field("timeout", "Timeout (seconds)", type="int", default=10),
    )  # fmt: skip

    @classmethod
    def check_config(cls, config: dict[str, Any], errors: dict[str, str]) -> None:
        if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", config["region"]):
            errors["region"] = "expected a region name like eu-west-1"
        for name in ("endpoint_url", "sts_endpoint_url"):
            if config[name] and not re.match(r"https?://[^/\s]+", config[name]):
                errors[name] = "expected http:// or https:// and a host"
        if config["role_arn"] and not config["role_arn"].startswith("arn:"):
            errors["role_arn"] = "expected a role ARN (arn:aws:iam::<account>:role/<name>)"
        if not 1 <= config["timeout"] <= 300:
            errors["timeout"] = "between 1 and 300 seconds"

    def __init__(self, name: str, config: Mapping[str, Any]):
        super().__init__(name, config)
        self._lock = threading.Lock()
        self._session: boto3.session.Session | None = None
        self._client: Any = None
        self._expires: dt.datetime | None = None
        self._ca_file: str | None = None

    # ------------------------------------------------------------------ clients

    def _verify(self) -> bool | str:
        if self.config["ca_cert"]:
            if self._ca_file is None:
                fd, self._ca_file = tempfile.mkstemp(prefix="aws-ca-", suffix=".pem")
                with os.fdopen(fd, "w") as fh:
                    fh.write(self.config["ca_cert"])
            return self._ca_file
        return bool(self.config["verify_tls"])

    def _botocore_config(self) -> Config:
        t = self.config["timeout"]
        return Config(connect_timeout=t, read_timeout=t, retries={"mode": "standard", "max_attempts": 2})

    def _base_session(self) -> boto3.session.Session:
        c = self.config
        if c["auth"] == "keys":
            return boto3.session.Session(
                aws_access_key_id=c["access_key_id"], aws_secret_access_key=c["secret_access_key"],
                aws_session_token=c["session_token"] or None, region_name=c["region"],
            )  # fmt: skip
        if c["auth"] == "profile":
            return boto3.session.Session(profile_name=c["profile"], region_name=c["region"])
        return boto3.session.Session(region_name=c["region"])

    def _sts(self, session: boto3.session.Session) -> Any:
        endpoint = self.config["sts_endpoint_url"] or self.config["endpoint_url"] or None
        return session.client("sts", endpoint_url=endpoint, config=self._botocore_config(), verify=self._verify())

    def _ready(self, ref: SecretRef | str | None) -> Any:
        with self._lock:
            now = dt.datetime.now(dt.UTC)
            if self._client is not None and (self._expires is None or now < self._expires - ROLE_REFRESH_MARGIN):
                return self._client
            with translate_errors(self.name, ref, self._map):
                session = self._base_session()
                expires = None
                if self.config["role_arn"]:
                    session, expires = self._assume(session, ref)
                self._client = session.client(
                    "secretsmanager", endpoint_url=self.config["endpoint_url"] or None,
                    config=self._botocore_config(), verify=self._verify(),
                )  # fmt: skip
            self._session, self._expires = session, expires
            return self._client

    def _assume(self, session: boto3.session.Session, ref: SecretRef | str | None) -> tuple[Any, dt.datetime]:
        role = self.config["role_arn"]
        args = {"RoleArn": role, "RoleSessionName": self.config["role_session_name"] or "script-runner"}
        if self.config["external_id"]:
            args["ExternalId"] = self.config["external_id"]

        def mapper(exc: BaseException) -> tuple[type[ProviderError], str] | None:
            mapped = self._map(exc)
            if mapped is not None and mapped[0] in (PermissionDeniedError, AuthenticationError, NotFoundError):
                return AuthenticationError, f"cannot assume role {role}: {mapped[1]}"
            return mapped

        with translate_errors(self.name, ref, mapper):
            creds = self._sts(session).assume_role(**args)["Credentials"]
        assumed = boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"], region_name=self.config["region"],
        )  # fmt: skip
        return assumed, creds["Expiration"]

    # ------------------------------------------------------------------ the interface

    def _fetch(self, ref: SecretRef) -> SecretDocument:
        client = self._ready(ref)
        args: dict[str, str] = {"SecretId": ref.path}
        if ref.version:
            args["VersionId" if VERSION_ID.fullmatch(ref.version) else "VersionStage"] = ref.version
        with translate_errors(self.name, ref, self._map):
            answer = client.get_secret_value(**args)
        version = answer.get("VersionId", "")
        if "SecretString" in answer:
            return SecretDocument(answer["SecretString"], version)
        data = answer.get("SecretBinary", b"")
        try:
            return SecretDocument(data.decode("utf-8"), version)
        except UnicodeDecodeError:
            return SecretDocument(base64.b64encode(data).decode("ascii"), version, "base64")

    def test_connection(self) -> str:
        client = self._ready(None)
        with translate_errors(self.name, None, self._map):
            who = self._sts(self._session).get_caller_identity()["Arn"]
            try:
                client.list_secrets(MaxResults=1)
            except bx.ClientError as exc:
                if _code(exc)[0] not in PERMISSION_CODES:
                    raise
                return f"authenticated as {who} in {self.config['region']}; it may not list secrets (no picker)"
        return f"authenticated as {who} in {self.config['region']}"

    def list_paths(self, prefix: str = "") -> list[str]:
        client = self._ready(None)
        args: dict[str, Any] = {"MaxResults": 100}
        if prefix:
            args["Filters"] = [{"Key": "name", "Values": [prefix]}]
        names: list[str] = []
        with translate_errors(self.name, None, self._map):
            for page in client.get_paginator("list_secrets").paginate(**args):
                names.extend(entry["Name"] for entry in page.get("SecretList", []))
                if len(names) >= 1000:  # a picker, not an export
                    break
        return sorted(name for name in names if name.startswith(prefix))

    def write(self, path: str, value: str | Mapping[str, str]) -> str:
        client = self._ready(None)
        text = value if isinstance(value, str) else json.dumps(dict(value))
        with translate_errors(self.name, f"{self.name}:{path}", self._map):
            try:
                return client.put_secret_value(SecretId=path, SecretString=text)["VersionId"]
            except bx.ClientError as exc:
                if _code(exc)[0] not in NOT_FOUND_CODES:
                    raise
            return client.create_secret(Name=path, SecretString=text)["VersionId"]

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
            self._client = self._session = None
            if self._ca_file is not None:
                with contextlib.suppress(OSError):
                    os.unlink(self._ca_file)
                self._ca_file = None

    # ------------------------------------------------------------------ errors

    def _map(self, exc: BaseException) -> tuple[type[ProviderError], str] | None:
        endpoint = self.config["endpoint_url"] or f"Secrets Manager in {self.config['region']}"
        if isinstance(exc, bx.ClientError):
            code, message = _code(exc)
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            detail = f"{code}: {message}" if message else code
            if code in NOT_FOUND_CODES:
                return NotFoundError, detail
            if code in PERMISSION_CODES:
                return PermissionDeniedError, detail
            if code in AUTH_CODES:
                return AuthenticationError, detail
            if code == "DecryptionFailure":
                return PermissionDeniedError, f"{detail} (the KMS key does not let this identity decrypt)"
            if status == 403:
                return PermissionDeniedError, detail
            if status == 401:
                return AuthenticationError, detail
            return ProviderError, detail
        if isinstance(exc, bx.SSLError):
            return TLSError, f"{endpoint}: {_reason(exc)}"
        if isinstance(exc, bx.EndpointConnectionError | bx.ConnectionClosedError):
            return UnreachableError, f"cannot connect to {endpoint}"
        if isinstance(exc, bx.ConnectTimeoutError | bx.ReadTimeoutError):
            return UnreachableError, f"{endpoint} did not answer within {self.config['timeout']} s"
        if isinstance(exc, bx.NoCredentialsError):
            return AuthenticationError, "no credentials found in the default chain"
        if isinstance(exc, bx.PartialCredentialsError | bx.ProfileNotFound | bx.CredentialRetrievalError):
            return AuthenticationError, str(exc)
        if isinstance(exc, bx.HTTPClientError):
            return UnreachableError, f"{endpoint}: {type(exc).__name__}"
        if isinstance(exc, bx.BotoCoreError):
            return ProviderError, str(exc)
        return None


_XML_CODE = re.compile(r"<Code>([^<]+)</Code>")
_XML_MESSAGE = re.compile(r"<Message>([^<]*)</Message>")


def _code(exc: bx.ClientError) -> tuple[str, str]:
    """(error code, message). Some servers (moto among them) answer a JSON-protocol call with an
    XML ErrorResponse that botocore cannot read, leaving the HTTP status as the code and the XML
    as the message; the real code is inside."""
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code", "")), str(error.get("Message", ""))
    if code.isdigit() and (inner := _XML_CODE.search(message)):
        text = _XML_MESSAGE.search(message)
        return inner.group(1), text.group(1) if text else ""
    if message.lstrip().startswith("<"):  # an HTML error page (a proxy, a crashed server): not worth quoting
        return code, f"the server answered with an HTML page (HTTP {code})" if code.isdigit() else "an HTML error page"
    return code, message


def _reason(exc: BaseException) -> str:
    found = re.search(r"\[SSL[^\]]*\]\s*([^'\"()]+)", str(exc))
    return found.group(1).strip() if found else "TLS handshake failed"
