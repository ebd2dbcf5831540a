"""What a parsed workflow is: its tasks, their retry policy and matrix, its parameters.

Built by spec.parse_workflow (which checks every field), planned by dag.build_plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Retry:
    max_attempts: int = 1
    initial_delay: float = 1.0
    backoff: float = 2.0
    max_delay: float = 60.0
    jitter: float = 0.0
    retry_on_exit_codes: frozenset[int] | None = None

    def should_retry(self, attempt: int, exit_code: int | None, timed_out: bool) -> bool:
        if attempt >= self.max_attempts:
            return False
        if self.retry_on_exit_codes is None or timed_out:
            return True
        return exit_code in self.retry_on_exit_codes

    def delay(self, attempt: int, rand: float = 0.5) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based); rand in [0, 1)."""
        base = min(self.initial_delay * self.backoff ** (attempt - 1), self.max_delay)
        return max(0.0, base * (1 + self.jitter * (2 * rand - 1)))


@dataclass
class Matrix:
    axes: dict[str, list[Any]]
    include: list[dict[str, Any]] = field(default_factory=list)
    exclude: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class TaskSpec:
    id: str
    run: str | list[str]
    line: int = 0
    needs: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    working_directory: str | None = None
    timeout: float | None = None
    retry: Retry = field(default_factory=Retry)
    skip_if: str | None = None
    run_always: bool = False
    continue_on_error: bool = False
    matrix: Matrix | None = None
    secrets: dict[str, str] = field(default_factory=dict)
    priority: int = 0
    description: str = ""
    cost: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)  # field -> line, for errors found later

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)


@dataclass
class Param:
    name: str
    default: Any = None
    description: str = ""
    required: bool = False
    choices: list[Any] | None = None


@dataclass
class WorkflowSpec:
    name: str
    tasks: dict[str, TaskSpec]
    description: str = ""
    max_parallel: int = 4
    max_legs: int = 256
    timeout: float | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, Param] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    working_directory: str | None = None
    schedule: str | None = None
    cost: dict[str, Any] = field(default_factory=dict)
    gates: dict[str, Any] = field(default_factory=dict)
    tracing: dict[str, Any] = field(default_factory=dict)
    budget: dict[str, Any] = field(default_factory=dict)
    format: str = "yaml"


def parse_need(need: str) -> tuple[str, str | None]:
    """'transform[format=csv]' -> ('transform', 'format=csv'); 'x[*]' -> ('x', '*'); 'x' -> ('x', None)."""
    if need.endswith("]") and "[" in need:
        task, leg = need[:-1].split("[", 1)
        return task, leg
    return need, None
