"""Fixtures for the provider tests: real servers (OpenBao, moto, a local Key Vault) and
providers configured against them the way an admin would."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from security.providers import build_provider
from security.providers.base import Provider

from .keyvault_server import KeyVaultServer
from .servers import BaoServer, MotoServer

ACCOUNT = "123456789012"  # moto's default account


@pytest.fixture
def unique() -> str:
    """A fresh path segment, so tests sharing a server never see each other's secrets."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def providers() -> Iterator[list[Provider]]:
    made: list[Provider] = []
    yield made
    for provider in made:
        provider.close()


# ---------------------------------------------------------------------- Vault (OpenBao)


@pytest.fixture(scope="session")
def bao() -> Iterator[BaoServer]:
    """One OpenBao dev server for the session: KV v2 at secret/, KV v1 at kv1/, AppRole at approle/."""
    with BaoServer() as server:
        root = server.client()
        root.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
        root.sys.enable_auth_method("approle")
        yield server


@pytest.fixture
def vault(bao: BaoServer, providers: list[Provider]) -> Callable[..., Provider]:
    """make a Vault provider named `vault-test` on the session server (root token unless told)."""

    def make(name: str = "vault-test", **config: Any) -> Provider:
        config = {"url": bao.url, "token": bao.token, **config}
        if config.get("auth") == "approle":
            config.pop("token")
        provider = build_provider("vault", name, config)
        providers.append(provider)
        return provider

    return make


@pytest.fixture
def approle(bao: BaoServer, unique: str) -> Callable[..., tuple[str, str]]:
    """make an AppRole with a policy (HCL); returns (role_id, secret_id)."""

    def make(policy: str, **role: Any) -> tuple[str, str]:
        root = bao.client()
        name = f"role-{unique}"
        root.sys.create_or_update_policy(name, policy)
        root.auth.approle.create_or_update_approle(name, token_policies=[name], **role)
        role_id = root.auth.approle.read_role_id(name)["data"]["role_id"]
        secret_id = root.auth.approle.generate_secret_id(name)["data"]["secret_id"]
        return role_id, secret_id

    return make


# ---------------------------------------------------------------------- AWS (moto)


ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


class Moto:
    """The session's moto server with IAM enforced, and the identities made before that."""

    def __init__(self, server: MotoServer):
        self.server = server
        self.url = server.url
        iam = server.client("iam")
        self.admin = self._user(iam, "admin", ALLOW_ALL)
        self.denied = self._user(iam, "no-reads", {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"},
                          {"Effect": "Deny", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}],
        })  # fmt: skip
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                           "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/admin"}}],
        }  # fmt: skip
        iam.create_role(RoleName="secret-reader", AssumeRolePolicyDocument=json.dumps(trust))
        iam.put_role_policy(RoleName="secret-reader", PolicyName="read", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:ListSecrets"],
                           "Resource": "*"}],
        }))  # fmt: skip
        self.reader_role = f"arn:aws:iam::{ACCOUNT}:role/secret-reader"
        # From here on every request must be signed by one of the keys above and allowed.
        server.enforce_iam(0)

    @staticmethod
    def _user(iam: Any, name: str, policy: dict[str, Any]) -> dict[str, str]:
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName=name, PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}

    def secretsmanager(self) -> Any:
        """A boto3 client as the admin: how the tests put secrets in place."""
        return self.server.client("secretsmanager", self.admin["access_key_id"], self.admin["secret_access_key"])


@pytest.fixture(scope="session")
def moto() -> Iterator[Moto]:
    with MotoServer() as server:
        yield Moto(server)


@pytest.fixture
def aws(moto: Moto, providers: list[Provider]) -> Callable[..., Provider]:
    """make an AWS provider named `aws-test` against moto, as the admin unless told."""

    def make(name: str = "aws-test", **config: Any) -> Provider:
        config = {"region": "us-east-1", "endpoint_url": moto.url, "auth": "keys", **moto.admin, **config}
        provider = build_provider("aws", name, config)
        providers.append(provider)
        return provider

    return make


# ---------------------------------------------------------------------- Azure (local Key Vault)


@pytest.fixture(scope="module")
def keyvault() -> Iterator[KeyVaultServer]:
    server = KeyVaultServer()
    yield server
    server.stop()


@pytest.fixture
def azure(keyvault: KeyVaultServer, providers: list[Provider]) -> Callable[..., Provider]:
    def make(name: str = "azure-test", **overrides: Any) -> Provider:
        provider = build_provider("azure", name, keyvault.provider_config(**overrides))
        providers.append(provider)
        return provider

    return make
