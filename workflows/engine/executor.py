"""Run a plan: start each node as soon as its own needs are done, at most `max_parallel` at once.

Retries with backoff, skip_if/run_always, outputs passed downstream, cancellation and a run
timeout. Everything that happens is reported through `Hooks`; the executor stores nothing.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import random
import shlex
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping
from typing import Any

from . import conditions, templates
from .context import referenced, task_context
from .dag import Node, Plan
from .hooks import (
    CANCELLED,
    FAILED,
    PENDING,
    RETRYING,
    RUNNING,
    SKIPPED,
    SUCCESS,
    TERMINAL,
    UPSTREAM_FAILED,
    AttemptInfo,
    AttemptRefused,
    Hooks,
    NodeOutcome,
    RunOutcome,
)
from .outputs import parse_outputs
from .process import ProcessHandle, ProcessLoop, ProcessResult, _Proc
from .shell import command_argv
from .spawn import FixedEnv, TaskEnv

# What it reports, importable from here as ever (`executor.AttemptInfo`, `executor.TERMINAL`).
__all__ = [
    "AttemptInfo", "AttemptRefused", "CANCELLED", "Executor", "FAILED", "Hooks", "NodeOutcome", "PENDING",
    "RETRYING", "RUNNING", "RunOutcome", "SKIPPED", "SUCCESS", "TERMINAL", "UPSTREAM_FAILED",
]  # fmt: skip


class Executor:
    def __init__(
        self,
        plan: Plan,
        hooks: Hooks | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        base_env: Mapping[str, str] | None = None,
        base_dir: str | None = None,
        run_id: str = "",
        initial: Mapping[str, NodeOutcome] | None = None,
        attempts_used: Mapping[str, int] | None = None,
        rng: random.Random | None = None,
    ):
        self.plan = plan
        self.spec = plan.spec
        self.hooks = hooks or Hooks()
        self.params = dict(params or {})
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.base_dir = base_dir or os.getcwd()
        self.run_id = run_id
        self.outcomes: dict[str, NodeOutcome] = dict(initial or {})
        self.attempts: dict[str, int] = {n: 0 for n in plan.nodes}
        self.attempts.update(attempts_used or {})
        self.rng = rng or random.Random()
        self._handles: dict[str, ProcessHandle] = {}
        self._started: dict[str, float] = {}
        self._lock = threading.RLock()  # guards the scheduling state against cancel() and the sampler
        self._loop: ProcessLoop | None = None
        self._ready: list[tuple[int, int, str]] = []
        self._delayed: list[tuple[float, int, str]] = []
        self._cancel_reason: str | None = None
        self._ready_at: dict[str, float] = {}
        self._scheduled: set[str] = set()  # pushed to ready (or waiting for a retry), not final yet
        self._running: set[str] = set()
        self._counter = itertools.count()
        self._refs = {task_id: referenced(task, self.spec) for task_id, task in self.spec.tasks.items()}
        self._static_commands: dict[str, tuple[list[str], str]] = {}
        self._fixed_env: FixedEnv | None = None

    # ------------------------------------------------------------------ public

    def cancel(self, reason: str = "cancelled") -> None:
        with self._lock:
            if self._cancel_reason is None:
                self._cancel_reason = reason
            handles = list(self._handles.values())
            loop = self._loop
        for handle in handles:
            handle.cancel()
        if loop is not None:
            loop.wake()  # also when nothing runs: waiting retries end now

    @property
    def cancelled(self) -> bool:
        return self._cancel_reason is not None

    def run(self) -> RunOutcome:
        """Run every node to a final state and return the run's outcome.

        One thread (this one) does it all: it starts each node as soon as its needs are done and
        fewer than `max_parallel` run, and a ProcessLoop waits on all the running processes at
        once. No thread per task: their hand-offs of the GIL cost more than a short task itself.
        """
        # Outputs files live in RAM where there is a tmpfs.
        tmp = tempfile.mkdtemp(prefix="runner-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None)
        self._tmp = tmp
        loop = ProcessLoop()
        with self._lock:
            self._loop = loop
        sampler = self._start_sampler()
        timer = None
        if self.spec.timeout:
            timer = threading.Timer(self.spec.timeout, self._time_out)
            timer.daemon = True
            timer.start()
        try:
            with self._lock:
                for node_id in self.plan.nodes:
                    if node_id not in self.outcomes and node_id not in self._scheduled and self._upstream_done(node_id):
                        self._consider(node_id, self._ready)
            self._drive(loop)
        finally:
            if timer is not None:
                timer.cancel()
            if sampler is not None:
                sampler.set()
            with self._lock:
                self._loop = None
            loop.close()
            shutil.rmtree(tmp, ignore_errors=True)
        return self._outcome()

    def _time_out(self) -> None:
        self._timed_out = True
        self.cancel(f"the run timed out after {self.spec.timeout:g}s")

    def _drive(self, loop: ProcessLoop) -> None:
        """Start what is ready (up to the width), wait for processes to end, record; repeat."""
        ready, delayed = self._ready, self._delayed
        width = max(1, self.spec.max_parallel)
        running: dict[_Proc, tuple[str, int, Any]] = {}
        tail = False
        while True:
            starts = []
            with self._lock:
                if self.cancelled:
                    self._cancel_waiting(ready, delayed)
                now = time.monotonic()
                while delayed and delayed[0][0] <= now and not self.cancelled:
                    _due, _seq, node_id = heapq.heappop(delayed)
                    self._ready_at[node_id] = time.time()
                    heapq.heappush(ready, (-self.plan.nodes[node_id].task.priority, next(self._counter), node_id))
                while ready and not self.cancelled and len(self._running) < width:
                    _prio, _seq, node_id = heapq.heappop(ready)
                    self.attempts[node_id] += 1
                    self._running.add(node_id)
                    node = self.plan.nodes[node_id]
                    starts.append(
                        (node_id, self.attempts[node_id], self._context(node) if self._refs[node.task.id] else None)
                    )
                if not starts and not self._running:
                    if not ready and not delayed:
                        return
                timeout = max(0.0, delayed[0][0] - now) if delayed else None
            if not tail and len(self.outcomes) + len(self._running) >= len(self.plan.nodes):
                tail = True  # every node has started or ended: the run's end is near
                self.hooks.ending()
            ended: list[tuple[str, AttemptInfo]] = []
            for node_id, attempt, ctx in starts:
                proc, info = self._start_attempt(node_id, attempt, ctx)
                if proc is not None:
                    running[proc] = (node_id, attempt, info)
                else:
                    ended.append((node_id, info))
            if not ended:
                for proc in loop.wait(timeout):
                    node_id, attempt, started = running.pop(proc)
                    ended.append((node_id, self._end_attempt(node_id, attempt, proc, started)))
            for node_id, info in ended:
                with self._lock:
                    self._running.discard(node_id)
                    self._finish_attempt(node_id, info, ready, delayed)

    # ------------------------------------------------------------------ scheduling

    def _upstream_done(self, node_id: str) -> bool:
        return all(u in self.outcomes for u in self.plan.graph.predecessors(node_id))

    def _consider(self, node_id: str, ready: list) -> None:
        decided = self._decide(node_id)
        if decided is not None:
            self._terminal(node_id, decided, ready)
            return
        self._push_ready(node_id, ready)

    def _push_ready(self, node_id: str, ready: list) -> None:
        self._scheduled.add(node_id)
        self._ready_at[node_id] = time.time()
        heapq.heappush(ready, (-self.plan.nodes[node_id].task.priority, next(self._counter), node_id))

    def _decide(self, node_id: str) -> NodeOutcome | None:
        """All needs of node_id are final: None if it should run, else how it ends without running."""
        node = self.plan.nodes[node_id]
        task = node.task
        if self.cancelled:
            return NodeOutcome(CANCELLED, reason=self._cancel_reason or "cancelled")
        if not task.run_always:
            for up in self.plan.graph.predecessors(node_id):
                outcome = self.outcomes[up]
                if outcome.status in (UPSTREAM_FAILED, CANCELLED) or (
                    outcome.status == FAILED and not self.plan.nodes[up].task.continue_on_error
                ):
                    return NodeOutcome(UPSTREAM_FAILED, reason=f"'{up}' {outcome.status}")
            for up in self.plan.graph.predecessors(node_id):
                if self.outcomes[up].status == SKIPPED:
                    return NodeOutcome(SKIPPED, reason=f"'{up}' was skipped")
        if task.skip_if:
            try:
                skip = conditions.truthy(conditions.evaluate(task.skip_if, self._context(node)))
            except conditions.ConditionError as exc:
                # Raised here it would abort the whole run and leave running tasks unreported.
                return NodeOutcome(FAILED, reason=f"skip_if could not be evaluated: {exc}")
            if skip:
                return NodeOutcome(SKIPPED, reason=f"skip_if: {task.skip_if}")
        return None

    def _terminal(self, node_id: str, outcome: NodeOutcome, ready: list) -> None:
        # A worklist, not recursion: a failure at the head of a long chain ends every node below it.
        pending = [(node_id, outcome)]
        while pending:
            node_id, outcome = pending.pop()
            outcome.attempts = max(outcome.attempts, self.attempts.get(node_id, 0))
            self.outcomes[node_id] = outcome
            self.hooks.node_state(
                node_id, outcome.status, attempt=outcome.attempts, outcome=outcome, reason=outcome.reason
            )
            for down in self.plan.graph.successors(node_id):
                if down not in self.outcomes and down not in self._scheduled and self._upstream_done(down):
                    decided = self._decide(down)
                    if decided is None:
                        self._push_ready(down, ready)
                    else:
                        self.outcomes[down] = decided  # claimed now so a sibling can't decide it twice
                        pending.append((down, decided))

    def _finish_attempt(self, node_id: str, info: AttemptInfo, ready: list, delayed: list) -> None:
        if info.retry_delay is not None and not self.cancelled:
            self.hooks.node_state(node_id, RETRYING, attempt=info.attempt, reason=f"retry in {info.retry_delay:.1f}s")
            due = time.monotonic() + info.retry_delay
            heapq.heappush(delayed, (due, next(self._counter), node_id))
            return
        status = {"success": SUCCESS, "cancelled": CANCELLED}.get(info.status, FAILED)
        reason = ""
        if info.status == "timeout":
            reason = f"timed out after {self.plan.nodes[node_id].task.timeout:g}s"
        elif info.result.error:
            reason = info.result.error
        elif status == FAILED:
            reason = _exit_reason(info.result)
        elif status == CANCELLED:
            reason = self._cancel_reason or "cancelled"
        outcome = NodeOutcome(status, info.result.exit_code, info.outputs, info.attempt, reason)
        self._terminal(node_id, outcome, ready)

    def _cancel_waiting(self, ready: list, delayed: list) -> None:
        """Every node not running now ends as cancelled; running ones report when their group is gone."""
        ready.clear()
        delayed.clear()
        reason = self._cancel_reason or "cancelled"
        for node_id in self.plan.nodes:
            if node_id not in self.outcomes and node_id not in self._running:
                self.outcomes[node_id] = NodeOutcome(CANCELLED, attempts=self.attempts[node_id], reason=reason)
                self.hooks.node_state(node_id, CANCELLED, attempt=self.attempts[node_id],
                                      outcome=self.outcomes[node_id], reason=reason)  # fmt: skip

    def _outcome(self) -> RunOutcome:
        for node_id in self.plan.nodes:  # unreachable only after cancel; keep every node final
            if node_id not in self.outcomes:
                self.outcomes[node_id] = NodeOutcome(CANCELLED, reason=self._cancel_reason or "cancelled")
                self.hooks.node_state(node_id, CANCELLED, outcome=self.outcomes[node_id])
        failed = [
            n for n, o in self.outcomes.items() if o.status == FAILED and not self.plan.nodes[n].task.continue_on_error
        ]
        if getattr(self, "_timed_out", False):
            return RunOutcome(FAILED, self._cancel_reason or "timed out", self.outcomes)
        if self.cancelled:
            return RunOutcome(CANCELLED, self._cancel_reason or "cancelled", self.outcomes)
        if failed:
            return RunOutcome(FAILED, f"{len(failed)} task(s) failed: {', '.join(failed[:5])}", self.outcomes)
        return RunOutcome(SUCCESS, "", self.outcomes)

    # ------------------------------------------------------------------ one attempt

    def _failed_attempt(self, node_id: str, attempt: int, exc: BaseException) -> AttemptInfo:
        """A hook failed: report it as the attempt's failure, never hang."""
        now = time.time()
        # A ${{ }} that cannot be rendered is the workflow's mistake, not ours: say so plainly.
        error = f"cannot render ${{{{ }}}}: {exc}" if isinstance(exc, conditions.ConditionError) else None
        if isinstance(exc, AttemptRefused):
            error = str(exc)
        result = ProcessResult(
            None, None, False, False, now, now, 0.0, 0.0, 0.0, 0, error or f"internal error: {exc!r}", None
        )
        return AttemptInfo(node_id, attempt, result, "failed", {}, [], None)

    def _start_attempt(self, node_id: str, attempt: int, ctx: Mapping[str, Any] | None) -> tuple[_Proc | None, Any]:
        """(the running process, what its end needs) or (None, the attempt's info: it never ran)."""
        try:
            return self._launch(node_id, attempt, ctx)
        except BaseException as exc:
            with self._lock:
                self._handles.pop(node_id, None)
                self._started.pop(node_id, None)
            return None, self._failed_attempt(node_id, attempt, exc)

    def _launch(self, node_id: str, attempt: int, ctx: Mapping[str, Any] | None) -> tuple[_Proc | None, Any]:
        node = self.plan.nodes[node_id]
        task = node.task
        static = self._static_commands.get(task.id)
        if static is None:
            argv = command_argv(task.run, ctx)
            command = argv[2] if argv[:2] == ["/bin/sh", "-c"] else shlex.join(argv)
            texts = [task.run] if isinstance(task.run, str) else task.run
            if not any("${{" in text for text in texts):  # the same for every attempt: worked out once
                self._static_commands[task.id] = (argv, command)
        else:
            argv, command = static
        # Not created up front (GitHub creates $GITHUB_OUTPUT): `>> "$RUNNER_OUTPUT"` creates it,
        # most tasks never write one, and every system call counts when a task is `true`.
        out_path = os.path.join(self._tmp, f"{next(self._counter)}.out")
        env = self._env(node, attempt, ctx, out_path)
        handle = ProcessHandle()
        with self._lock:
            self._handles[node_id] = handle
            cancelled = self.cancelled
        if cancelled:
            handle.cancel()  # the process will not start; the result says cancelled
        ready_at = self._ready_at.get(node_id, time.time())
        hooks = self.hooks

        def on_start(pid: int) -> None:
            with self._lock:
                self._started[node_id] = time.monotonic()
            hooks.attempt_started(node_id, attempt, command=command, ready_at=ready_at, started_at=time.time(), pid=pid)

        def on_line(stream: str, line: str) -> None:
            hooks.log(node_id, attempt, stream, line)

        cwd = self.base_dir
        workdir = task.working_directory or self.spec.working_directory
        if workdir:
            cwd = os.path.join(self.base_dir, workdir)
        assert self._loop is not None
        proc = self._loop.start(
            argv, env=env, cwd=cwd, timeout=task.timeout, on_line=on_line, handle=handle, on_start=on_start,
            line_cut=hooks.line_cut,
        )  # fmt: skip
        started = (command, ready_at, out_path)
        if proc.result is not None:  # it never ran (cannot start, cancelled, or on_start raised)
            return None, self._end_attempt(node_id, attempt, proc, started)
        return proc, started

    def _end_attempt(self, node_id: str, attempt: int, proc: _Proc, started: Any) -> AttemptInfo:
        with self._lock:
            self._handles.pop(node_id, None)
            # [attempt_started was called, attempt_finished was not]: an end is owed to the hooks
            owed = [self._started.pop(node_id, None) is not None]
        try:
            return self._record_end(node_id, attempt, proc, started, owed)
        except BaseException as exc:
            info = self._failed_attempt(node_id, attempt, exc)
            if owed[0]:  # its start is recorded, so its end must be too, or it stays "running"
                self.hooks.attempt_finished(info)
            return info

    def _record_end(self, node_id: str, attempt: int, proc: _Proc, started: Any, owed: list[bool]) -> AttemptInfo:
        command, ready_at, out_path = started
        if proc.failure is not None:
            with contextlib.suppress(OSError):
                os.unlink(out_path)
            raise proc.failure
        result = proc.result
        assert result is not None
        task = self.plan.nodes[node_id].task
        if not owed[0]:
            self.hooks.attempt_started(
                node_id, attempt, command=command, ready_at=ready_at, started_at=result.started_at, pid=None
            )
            owed[0] = True
        if result.error:
            self.hooks.log(node_id, attempt, "stderr", result.error)
        try:
            with open(out_path, encoding="utf-8", errors="replace") as fh:
                outputs, warnings = parse_outputs(fh.read())
            os.unlink(out_path)
        except FileNotFoundError:
            outputs, warnings = {}, []
        except OSError as exc:
            outputs, warnings = {}, [f"could not read outputs: {exc}"]
        outputs = self.hooks.filter_outputs(node_id, outputs)
        if result.cancelled:
            status = "cancelled"
        elif result.timed_out:
            status = "timeout"
        elif result.ok:
            status = "success"
        else:
            status = "failed"
        delay = None
        if status in ("failed", "timeout") and not self.cancelled:
            code = result.exit_code if result.exit_code is not None else (127 if result.error else None)
            if task.retry.should_retry(attempt, code, result.timed_out):
                delay = task.retry.delay(attempt, self.rng.random())
        info = AttemptInfo(node_id, attempt, result, status, outputs, warnings, delay)
        owed[0] = False
        self.hooks.attempt_finished(info)
        return info

    def _env(self, node: Node, attempt: int, ctx: Mapping[str, Any] | None, out_path: str) -> TaskEnv:
        """The server's allowed variables, the hooks' for the whole run, the workflow's `env:`,
        the task's, RUNNER_*, the matrix leg's, then the hooks' for this attempt (secrets, trace
        context): later ones win."""
        fixed = self._fixed_env
        if fixed is None:  # what every task of this run shares, encoded once for all its starts
            values = dict(self.base_env)
            values.update(self.hooks.run_env())
            values.update((k, v) for k, v in self.spec.env.items() if "${{" not in v)
            values.update(RUNNER_RUN_ID=str(self.run_id), RUNNER_WORKFLOW=self.spec.name)
            fixed = self._fixed_env = FixedEnv(values)
        own = {k: templates.render(v, ctx or {}) for k, v in self.spec.env.items() if "${{" in v}
        for key, value in node.task.env.items():
            own[key] = templates.render(value, ctx or {}) if "${{" in value else value
        for key in ("RUNNER_RUN_ID", "RUNNER_WORKFLOW"):
            if key in own:  # a workflow's own variable of that name loses, as everywhere
                own[key] = fixed.values[key]
        own.update(
            RUNNER_OUTPUT=out_path,
            RUNNER_TASK=node.task.id,
            RUNNER_NODE=node.id,
            RUNNER_ATTEMPT=str(attempt),
        )
        if node.leg is not None:
            for key, value in node.leg.items():
                own[f"RUNNER_MATRIX_{key.upper().replace('-', '_')}"] = conditions.to_text(value)
        return TaskEnv(fixed, own, self.hooks.attempt_env(node.id, attempt))

    def _context(self, node: Node) -> dict[str, Any]:
        return task_context(self.spec, self.plan, self.outcomes, node, params=self.params, run_id=self.run_id)

    # ------------------------------------------------------------------ live usage sampling

    def _start_sampler(self) -> threading.Event | None:
        interval = self.hooks.progress_interval
        if not interval:
            return None
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(interval):
                with self._lock:
                    running = [(n, h, self._started[n]) for n, h in self._handles.items() if n in self._started]
                now = time.monotonic()
                for node_id, handle, started in running:
                    if now - started >= interval:
                        cpu, rss = handle.usage()
                        if rss:  # 0: it ended between our look at the list and /proc
                            self.hooks.progress(node_id, self.attempts[node_id], cpu, rss, now - started)

        threading.Thread(target=sample, name="usage-sampler", daemon=True).start()
        return stop


def _exit_reason(result: ProcessResult) -> str:
    if result.signal:
        return f"killed by signal {result.signal}"
    return f"exit code {result.exit_code}"
