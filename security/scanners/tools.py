"""What the pipeline needs from a scanner, and running one as a subprocess without a network."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from .files import SourceFile
from .results import ScanError, ScanFinding

# Keep each command line well under the kernel's argument limit.
MAX_ARGV_FILES = 400


class ToolFailed(RuntimeError):
    pass


class Tool(Protocol):
    name: str

    def version(self) -> str: ...

    def config_digest(self) -> str:
        """Everything besides a file's content that decides its results (version, rules, settings)."""
        ...

    def applies(self, file: SourceFile) -> bool: ...

    def scan(self, root: Path, paths: Sequence[str]) -> tuple[dict[str, list[dict[str, Any]]], list[ScanError]]:
        """Raw results per file for these files (every file gets an entry, [] when clean)."""
        ...

    def findings(self, path: str, raw: list[dict[str, Any]], file: SourceFile) -> list[ScanFinding]: ...


def run_json(argv: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 1800) -> Any:
    """Run a scanner CLI and parse its JSON output; a crash or bad output raises ToolFailed."""
    try:
        done = subprocess.run(
            argv, cwd=cwd, env=env, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
        )
    except FileNotFoundError as exc:
        raise ToolFailed(f"{argv[0]} is not installed ({exc})") from None
    except subprocess.TimeoutExpired:
        raise ToolFailed(f"{Path(argv[0]).name} took longer than {timeout:.0f}s") from None
    try:
        return json.loads(done.stdout)
    except ValueError:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise ToolFailed(f"{Path(argv[0]).name} exited {done.returncode}: {' / '.join(tail) or 'no output'}") from None


def quiet_env(**extra: str) -> dict[str, str]:
    """A scanner's environment: no proxies, no telemetry, no update checks."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(extra)
    return env


def chunks(
    items: Sequence[str], parts: int, limit: int = MAX_ARGV_FILES, sizes: dict[str, int] | None = None
) -> list[list[str]]:
    """Split into about `parts` chunks of similar total size (largest files first, each to the
    lightest chunk), none longer than `limit` files: no process is left running alone at the end."""
    if not items:
        return []
    count = max(parts, 1, -(-len(items) // limit))
    bins: list[list[str]] = [[] for _ in range(count)]
    load = [0] * count
    for item in sorted(items, key=lambda i: -(sizes or {}).get(i, 1)):
        lightest = min(range(count), key=lambda b: (load[b], len(bins[b])))
        bins[lightest].append(item)
        load[lightest] += (sizes or {}).get(item, 1)
    return [sorted(b) for b in bins if b]
