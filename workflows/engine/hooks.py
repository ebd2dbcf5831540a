"""What the executor reports and how: the statuses a task goes through, the records of an
attempt, a node and a run, and the Hooks a caller implements to store and show them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .handle import ProcessResult

PENDING = "pending"
RUNNING = "running"
RETRYING = "retrying"
SUCCESS = "success"
FAILED = "failed"
SKIPPED = "skipped"
UPSTREAM_FAILED = "upstream_failed"
CANCELLED = "cancelled"
TERMINAL = frozenset({SUCCESS, FAILED, SKIPPED, UPSTREAM_FAILED, CANCELLED})


class AttemptRefused(Exception):
    """Raised by a hook before the process starts (a secret that cannot be read): the attempt
    fails with this message as its error, rather than as an internal error."""


@dataclass
class NodeOutcome:
    status: str
    exit_code: int | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    attempts: int = 0
    reason: str = ""


@dataclass
class AttemptInfo:
    node_id: str
    attempt: int
    result: ProcessResult
    status: str  # success, failed, timeout, cancelled
    outputs: dict[str, str]
    warnings: list[str]
    retry_delay: float | None  # set when another attempt will follow


@dataclass
class RunOutcome:
    status: str  # success, failed, cancelled
    reason: str = ""
    nodes: dict[str, NodeOutcome] = field(default_factory=dict)


class Hooks:
    """What the executor reports. Called from the thread running the run, except progress()
    (the usage sampler's thread), so implementations must be thread-safe. That one thread also
    watches every running process: a hook that blocks (attempt_env reading a secret store)
    holds up the others' live lines and timeouts for as long, never their results."""

    progress_interval: float | None = None  # seconds between progress() samples; None disables

    def node_state(self, node_id: str, state: str, *, attempt: int = 0, outcome: NodeOutcome | None = None,
                   reason: str = "") -> None: ...  # fmt: skip

    def attempt_started(self, node_id: str, attempt: int, *, command: str, ready_at: float,
                        started_at: float, pid: int | None) -> None: ...  # fmt: skip

    def attempt_finished(self, info: AttemptInfo) -> None: ...

    def ending(self) -> None:
        """Nothing is left to start: only the attempts running now (and their retries) remain."""

    def log(self, node_id: str, attempt: int, stream: str, line: str) -> None: ...

    def attempt_env(self, node_id: str, attempt: int) -> Mapping[str, str]:
        """Variables for this attempt, over everything else (a secret, its trace context)."""
        return {}

    def run_env(self) -> Mapping[str, str]:
        """Variables every task of the run gets, under the workflow's own `env:` (which wins).
        Asked once, before the first attempt; encoded once for all of them."""
        return {}

    def filter_outputs(self, node_id: str, outputs: dict[str, str]) -> dict[str, str]:
        return outputs

    def progress(self, node_id: str, attempt: int, cpu_s: float, rss_bytes: int, wall_s: float) -> None: ...

    def line_cut(self, data: bytes, cut: int) -> int:
        """Where to cut a line too long to pass on whole (see run_process); `cut` by default."""
        return cut
