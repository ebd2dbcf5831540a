"""Run task attempts as subprocesses, each in its own session: live line streaming, timeout and
cancellation that kill the whole process group, and CPU/peak-memory accounting via wait4.

ProcessLoop runs many at once from one thread (the executor's); run_process runs one."""

from __future__ import annotations

import contextlib
import functools
import os
import select
import shutil
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .handle import ProcessHandle, ProcessResult, group_alive, killpg, trusted_maxrss
from .lines import LineSplitter
from .spawn import spawn

__all__ = ["ProcessHandle", "ProcessLoop", "ProcessResult", "run_process"]

# Background children may still hold the pipes after the main process exits; their output is
# read for this long, then the group is killed so the run cannot hang on them.
DRAIN_AFTER_EXIT_S = 0.5
_READ_SIZE = 65536
# No fd signals these events, so they are polled: a process exit when pidfd_open is
# unavailable, and a process group emptying during the grace period after SIGTERM.
_FALLBACK_POLL_MAX_S = 0.05
_SAMPLE_FIRST_S = 0.05
_SAMPLE_MAX_S = 1.0
_GROUP_POLL_S = 0.02


@functools.lru_cache(maxsize=512)
def _executable(name: str, path: str) -> str | None:
    """Where a bare program name is on PATH, looked up once rather than by Popen for each task
    (it joins and encodes every PATH entry). None: let Popen search (a path, or a relative PATH
    entry, which depends on the task's working directory)."""
    if not name or "/" in name or any(not os.path.isabs(entry) for entry in path.split(os.pathsep)):
        return None
    return shutil.which(name, path=path)


class _Proc:
    """One process of a ProcessLoop, from its start to its result: its pipes, its exit, and its
    timers (timeout, SIGKILL after the grace period, memory samples, draining after exit)."""

    def __init__(
        self,
        loop: ProcessLoop,
        handle: ProcessHandle,
        on_line: Callable[[str, str], None] | None,
        timeout: float | None,
        kill_grace: float,
        max_line_bytes: int,
        line_cut: Callable[[bytes, int], int] | None,
    ) -> None:
        self.loop, self.handle, self.on_line, self.timeout, self.kill_grace = loop, handle, on_line, timeout, kill_grace
        self.max_line_bytes, self.line_cut = max_line_bytes, line_cut
        self.result: ProcessResult | None = None
        self.failure: BaseException | None = None  # on_line or on_start raised it
        self.child: Any = None
        self.pid = 0
        self.pidfd: int | None = None
        self.pipes: dict[int, LineSplitter | None] = {}
        self.exited = False
        self.status: int | None = None
        self.rusage: Any = None
        self.error: str | None = None
        self.timed_out = self.cancelled = self.killed = self.stop_draining = False
        self.kill_at: float | None = None  # set once the group got SIGTERM: SIGKILL is due then
        self.exit_at = 0.0
        self.cancels_seen = 0
        self.wake_at: float | None = None
        self.started_at = self.t0 = 0.0
        self.deadline: float | None = None
        self.sample_every = _SAMPLE_FIRST_S
        self.sample_at = 0.0
        self.fallback_poll = 0.001

    # ------------------------------------------------------------------ start

    def start(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None,
        cwd: str | None,
        on_start: Callable[[int], None] | None,
    ) -> bool:
        """True if it runs; False if it never started (self.result says why)."""
        handle = self.handle
        with handle._lock:
            if handle._used:
                raise RuntimeError("a ProcessHandle can run only one process")
            handle._used = True
            cancelled_early = handle._cancelled
        self.started_at, self.t0 = time.time(), time.monotonic()
        if cancelled_early:
            self.result = ProcessResult(cancelled=True, started_at=self.started_at, ended_at=time.time())
            return False
        path = (env if env is not None else os.environ).get("PATH", os.defpath)
        executable = _executable(argv[0], path) if argv else None
        try:
            try:
                child = spawn(argv, executable, env, cwd)
            except FileNotFoundError:
                if executable is None:
                    raise
                _executable.cache_clear()  # the program moved since it was looked up: search again
                child = spawn(argv, None, env, cwd)
        except (OSError, ValueError) as exc:
            self.result = ProcessResult(started_at=self.started_at, ended_at=time.time(), error=f"cannot start: {exc}")
            return False
        self.child, self.pid = child, child.pid  # pid == pgid: a new session
        loop = self.loop
        try:
            for name, fd in (("stdout", child.stdout), ("stderr", child.stderr)):
                on_line = self.on_line
                self.pipes[fd] = LineSplitter(name, on_line, self.max_line_bytes, self.line_cut) if on_line else None
                loop._watch(fd, self)
            try:
                self.pidfd = os.pidfd_open(child.pid)
            except (AttributeError, OSError):
                self.pidfd = None
            else:
                loop._watch(self.pidfd, self)
            with handle._lock:
                handle.pid = handle.pgid = child.pid
                handle._wake_fd = loop._wake_fd
                if handle._cancelled:  # cancel() ran between the pre-start check and the spawn
                    handle._send_term_locked()
                    loop.wake()
            if on_start is not None:
                on_start(child.pid)
        except BaseException as exc:
            self.abort(exc)
            return False
        if self.timeout is not None:
            self.deadline = self.t0 + self.timeout
        self.sample_at = self.t0 + self.sample_every
        self.wake_at = self.sample_at if self.deadline is None else min(self.sample_at, self.deadline)
        if self.pidfd is None:
            self.wake_at = min(self.wake_at, self.t0 + self.fallback_poll)
        return True

    # ------------------------------------------------------------------ events

    def _reap(self, options: int) -> bool:
        handle = self.handle
        with handle._lock:
            try:
                wpid, wstatus, ru = os.wait4(self.pid, options)
            except ChildProcessError:  # someone else (a stray os.wait()) reaped it
                wpid, wstatus, ru = self.pid, None, None
                self.error = "exit status lost: reaped elsewhere"
            if not wpid:
                return False
            handle._reaped = True
            # Decided under the lock: a cancel() that won the race may have sent the
            # SIGTERM this process died of, before the loop saw its wake-up.
            self.cancelled = handle._cancelled
        self.exited, self.status, self.rusage, self.exit_at = True, wstatus, ru, time.monotonic()
        return True

    def readable(self, fd: int, events: int = select.POLLIN) -> None:
        """poll said fd is readable (POLLIN), or at EOF: a pipe whose writers are all gone and
        that holds nothing comes with POLLHUP alone, and needs no read to say so (for a task as
        short as `true`, that is two of its system calls saved, each a hand-off of the GIL)."""
        if fd == self.pidfd:
            self.loop._unwatch(fd)  # it stays readable once the process exited
            self._reap(0)
            return
        chunk = os.read(fd, _READ_SIZE) if events & select.POLLIN or not events & select.POLLHUP else b""
        splitter = self.pipes[fd]
        if chunk:
            if splitter is not None:
                splitter.feed(chunk)
            return
        self.loop._unwatch(fd)
        del self.pipes[fd]
        if splitter is not None:
            splitter.flush()

    def woken(self, now: float) -> None:
        """The loop was woken: act on a cancel() of this process made since the last look."""
        handle = self.handle
        with handle._lock:
            if handle._cancels == self.cancels_seen:
                return
            self.cancels_seen = handle._cancels
            if self.exited:  # too late to cancel: just stop waiting for stragglers
                self.stop_draining = True
                return
            handle._send_term_locked()
            grace_at = now + handle._cancel_grace
        self.kill_at = grace_at if self.kill_at is None else min(self.kill_at, grace_at)

    def tick(self, now: float) -> bool:
        """Act on what is due; True once the process is done. Sets wake_at: when to look again."""
        if self.pidfd is None and not self.exited:
            self._reap(os.WNOHANG)
        if not self.exited and self.kill_at is None and self.deadline is not None and now >= self.deadline:
            self.timed_out = True
            with self.handle._lock:
                self.handle._send_term_locked()
            self.kill_at = now + self.kill_grace
        if self.kill_at is not None and not self.killed and now >= self.kill_at:
            self.killed = True
            killpg(self.pid, signal.SIGKILL)
        wake_at: float | None = None
        if self.exited:
            drain_until = max(self.exit_at + DRAIN_AFTER_EXIT_S, self.kill_at or 0.0)
            if self.stop_draining or now >= drain_until:
                return True
            if self.pipes:
                wake_at = drain_until
            elif self.kill_at is None or self.killed or not group_alive(self.pid):
                return True
            else:  # after SIGTERM the rest of the group keeps its grace period
                wake_at = now + _GROUP_POLL_S
        elif self.kill_at is None and self.deadline is not None:
            wake_at = self.deadline
        if self.kill_at is not None and not self.killed:
            wake_at = self.kill_at if wake_at is None else min(wake_at, self.kill_at)
        if not self.exited:
            # Memory samples at 50 ms, 100 ms, ... then every second: wait4's peak can't be
            # trusted for a child smaller than us (trusted_maxrss), so these are the figure.
            if now >= self.sample_at:
                self.handle.usage()
                self.sample_every = min(self.sample_every * 2, _SAMPLE_MAX_S)
                self.sample_at = now + self.sample_every
            wake_at = self.sample_at if wake_at is None else min(wake_at, self.sample_at)
            if self.pidfd is None:  # no fd tells of the exit: look again soon
                wake_at = min(wake_at, now + self.fallback_poll)
                self.fallback_poll = min(self.fallback_poll * 2, _FALLBACK_POLL_MAX_S)
        self.wake_at = wake_at
        return False

    # ------------------------------------------------------------------ end

    def finish(self) -> ProcessResult:
        """Kill what is left of the group, take what is still in the pipes, and give the result."""
        try:
            # Nothing of the task may outlive it: kill whatever of the group is left.
            killpg(self.pid, signal.SIGKILL)
            # Pipes still open here were held by children that were just killed.
            for fd, splitter in self.pipes.items():
                os.set_blocking(fd, False)  # take only what is already buffered
                with contextlib.suppress(BlockingIOError):
                    # Bounded: a writer that escaped the group (setsid) may never stop.
                    for _ in range(16):
                        if not (chunk := os.read(fd, _READ_SIZE)):
                            break
                        if splitter is not None:
                            splitter.feed(chunk)
                if splitter is not None:
                    splitter.flush()
        except BaseException as exc:
            self.abort(exc)
            raise
        self._release()
        code = None if self.status is None else os.waitstatus_to_exitcode(self.status)
        rusage = self.rusage
        self.result = ProcessResult(
            exit_code=code if code is not None and code >= 0 else None,
            signal=-code if code is not None and code < 0 else None,
            timed_out=self.timed_out,
            cancelled=self.cancelled,
            started_at=self.started_at,
            ended_at=time.time(),
            wall_s=time.monotonic() - self.t0,
            cpu_user_s=rusage.ru_utime if rusage else 0.0,
            cpu_sys_s=rusage.ru_stime if rusage else 0.0,
            peak_rss_bytes=max(trusted_maxrss(rusage), self.handle._peak_rss),
            error=self.error,
            pid=self.pid,
        )
        return self.result

    def abort(self, exc: BaseException) -> None:
        """on_line or on_start raised: kill the group and reap, keep the error for the caller."""
        self.failure = exc
        if self.child is None:
            return
        killpg(self.pid, signal.SIGKILL)
        if not self.exited:
            self._reap(0)
        self._release()
        now = time.time()
        self.result = ProcessResult(
            started_at=self.started_at, ended_at=now, wall_s=time.monotonic() - self.t0,
            error=f"internal error: {exc!r}", pid=self.pid,
        )  # fmt: skip

    def _release(self) -> None:
        with self.handle._lock:
            self.handle._wake_fd = None
            self.handle._reaped = True
        for fd in list(self.pipes):
            self.loop._unwatch(fd)
        if self.pidfd is not None:
            self.loop._unwatch(self.pidfd)
            os.close(self.pidfd)
            self.pidfd = None
        child, self.child = self.child, None
        if child is not None:
            child.close(-1 if self.status is None else os.waitstatus_to_exitcode(self.status))


class ProcessLoop:
    """Runs many processes from one thread: one poll() over every pipe and exit of them all.

    A thread per process would do the same work, but each of its system calls gives up the GIL
    and takes it back, and with many threads each of those is a hand-off between them: for
    tasks as short as `true`, most of the cost. Not thread-safe, except wake().
    """

    def __init__(self) -> None:
        self._poller = select.poll()
        self._owners: dict[int, _Proc] = {}
        self._running: list[_Proc] = []
        self._wake_fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self._poller.register(self._wake_fd, select.POLLIN)
        self._closed = False
        self._close_lock = threading.Lock()  # wake() from another thread never writes a closed fd

    def __len__(self) -> int:
        return len(self._running)

    def start(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None,
        cwd: str | None,
        timeout: float | None,
        on_line: Callable[[str, str], None] | None,
        handle: ProcessHandle | None = None,
        on_start: Callable[[int], None] | None = None,
        kill_grace: float = 5.0,
        max_line_bytes: int = 65536,
        line_cut: Callable[[bytes, int], int] | None = None,
    ) -> _Proc:
        """Start argv; never raises for a command that cannot start. If `.result` is set on
        the returned process, it never ran (see .result.error and .failure)."""
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be at least 1")
        proc = _Proc(self, handle if handle is not None else ProcessHandle(), on_line, timeout, kill_grace,
                     max_line_bytes, line_cut)  # fmt: skip
        if proc.start(argv, env, cwd, on_start):
            self._running.append(proc)
        return proc

    def wake(self) -> None:
        """From any thread: make wait() return now (a cancel, new work)."""
        with self._close_lock:
            if not self._closed:
                os.eventfd_write(self._wake_fd, 1)

    def wait(self, timeout: float | None) -> list[_Proc]:
        """Wait for events (at most `timeout` seconds; None: until one comes) and return the
        processes that ended, each with its .result (and .failure if a callback raised)."""
        now = time.monotonic()
        wake_at = None if timeout is None else now + timeout
        for proc in self._running:
            if proc.wake_at is not None:
                wake_at = proc.wake_at if wake_at is None else min(wake_at, proc.wake_at)
        wait = None if wake_at is None else max(0.0, wake_at - now) * 1000
        woken = False
        for fd, events in self._poller.poll(wait):
            if fd == self._wake_fd:
                os.eventfd_read(fd)
                woken = True
                continue
            proc = self._owners.get(fd)
            if proc is None or proc.result is not None:
                continue
            try:
                proc.readable(fd, events)
            except BaseException as exc:
                proc.abort(exc)
        now = time.monotonic()
        done: list[_Proc] = []
        for proc in self._running:
            if proc.result is not None:  # aborted above
                done.append(proc)
                continue
            try:
                if woken:
                    proc.woken(now)
                if proc.tick(now):
                    proc.finish()
                    done.append(proc)
            except BaseException as exc:
                if proc.result is None:
                    proc.abort(exc)
                done.append(proc)
        if done:
            self._running = [proc for proc in self._running if proc not in done]
        return done

    def close(self) -> None:
        """Kill and reap whatever still runs, then free the loop's fd."""
        for proc in self._running:
            proc.abort(RuntimeError("the process loop was closed"))
        self._running = []
        with self._close_lock:
            self._closed = True
            os.close(self._wake_fd)

    def _watch(self, fd: int, proc: _Proc) -> None:
        self._owners[fd] = proc
        self._poller.register(fd, select.POLLIN)

    def _unwatch(self, fd: int) -> None:
        if self._owners.pop(fd, None) is not None:
            self._poller.unregister(fd)


def run_process(argv: Sequence[str], **options: Any) -> ProcessResult:
    """Run argv to completion; never raises for a command that cannot start (see .error).

    A line longer than max_line_bytes is passed on in pieces; `line_cut(data, cut)` may move
    each cut (a masker keeps a secret whole within one piece). An error raised by on_line or
    on_start kills the process group and is raised here. The options are ProcessLoop.start's."""
    loop = ProcessLoop()
    try:
        proc = loop.start(argv, **options)
        while proc.result is None:
            loop.wait(None)
    finally:
        loop.close()
    if proc.failure is not None:
        raise proc.failure
    return proc.result
