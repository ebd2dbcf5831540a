"""Helpers for the engine tests: waiting on a condition, a recording Hooks, running a workflow."""

from __future__ import annotations

import textwrap
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import psutil

from workflows.engine.dag import Plan, build_plan
from workflows.engine.executor import AttemptInfo, Executor, Hooks, NodeOutcome, RunOutcome
from workflows.engine.spec import WorkflowSpec, parse_workflow

RUN_DEADLINE_S = 60.0


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, message: str = "") -> Any:
    """Poll `predicate` until it is truthy and return its value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message or f"condition not met within {timeout}s")
        time.sleep(0.005)  # the polling helper itself; tests never sleep


def gone(pid: int) -> bool:
    """The process no longer runs (a killed orphan may stay a zombie until PID 1 reaps it)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def spec_of(text: str, filename: str | None = None) -> WorkflowSpec:
    return parse_workflow(textwrap.dedent(text), filename)


def plan_of(text: str) -> Plan:
    return build_plan(spec_of(text))


class Recorder(Hooks):
    """Records every hook call in order; hook calls arrive from several threads."""

    def __init__(self, env: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._lock = threading.Lock()
        self.events: list[tuple[Any, ...]] = []
        self.env = env or {}

    def _add(self, *event: Any) -> None:
        with self._lock:
            self.events.append(event)

    def node_state(self, node_id: str, state: str, *, attempt: int = 0, outcome: NodeOutcome | None = None,
                   reason: str = "") -> None:  # fmt: skip
        self._add("state", node_id, state, reason)

    def attempt_started(self, node_id: str, attempt: int, *, command: str, ready_at: float, started_at: float,
                        pid: int | None) -> None:  # fmt: skip
        self._add("started", node_id, attempt, command, started_at, pid)

    def attempt_finished(self, info: AttemptInfo) -> None:
        self._add("finished", info.node_id, info)

    def log(self, node_id: str, attempt: int, stream: str, line: str) -> None:
        self._add("log", node_id, stream, line)

    def attempt_env(self, node_id: str, attempt: int) -> Mapping[str, str]:
        return self.env.get(node_id, {})

    def progress(self, node_id: str, attempt: int, cpu_s: float, rss_bytes: int, wall_s: float) -> None:
        self._add("progress", node_id, cpu_s, rss_bytes, wall_s)

    # -- reading what was recorded

    def of(self, kind: str, node_id: str | None = None) -> list[tuple[Any, ...]]:
        with self._lock:
            return [e for e in self.events if e[0] == kind and (node_id is None or e[1] == node_id)]

    def states(self, node_id: str) -> list[str]:
        return [e[2] for e in self.of("state", node_id)]

    def starts(self, node_id: str) -> list[tuple[Any, ...]]:
        return self.of("started", node_id)

    def attempts(self, node_id: str) -> list[AttemptInfo]:
        return [e[2] for e in self.of("finished", node_id)]

    def lines(self, node_id: str, stream: str = "stdout") -> list[str]:
        return [e[3] for e in self.of("log", node_id) if e[2] == stream]

    def position(self, kind: str, node_id: str, detail: Any = None) -> int:
        """Index of the first matching event (detail: the state for "state" events)."""
        with self._lock:
            for index, e in enumerate(self.events):
                if e[0] == kind and e[1] == node_id and (detail is None or e[2] == detail):
                    return index
        raise AssertionError(f"no {kind} event for {node_id} {detail or ''}")


class Background:
    """Runs an executor on its own thread, so a test can act while it runs and bound how long it takes."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self._result: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, name="executor", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result["outcome"] = self.executor.run()
        except BaseException as exc:  # handed to the test thread
            self._result["error"] = exc

    def outcome(self, timeout: float = RUN_DEADLINE_S) -> RunOutcome:
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.executor.cancel("the test gave up waiting")
            self._thread.join(10)
            raise AssertionError(f"the run did not terminate within {timeout:g}s")
        if "error" in self._result:
            raise self._result["error"]
        return self._result["outcome"]


def start(text: str, base_dir: Path, hooks: Hooks | None = None, **kwargs: Any) -> tuple[Background, Recorder]:
    hooks = hooks if hooks is not None else Recorder()
    executor = Executor(plan_of(text), hooks, base_dir=str(base_dir), **kwargs)
    return Background(executor), hooks  # type: ignore[return-value]


def execute(text: str, base_dir: Path, hooks: Hooks | None = None, **kwargs: Any) -> tuple[RunOutcome, Recorder]:
    """Run a workflow to the end (failing the test if it does not end) with tasks running in base_dir."""
    running, recorder = start(text, base_dir, hooks, **kwargs)
    return running.outcome(), recorder


def statuses(outcome: RunOutcome) -> dict[str, str]:
    return {node_id: node.status for node_id, node in outcome.nodes.items()}
