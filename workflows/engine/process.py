"""Run one task attempt as a subprocess in its own session: live line streaming, timeout and
cancellation that kill the whole process group, and CPU/peak-memory accounting via wait4."""

from __future__ import annotations

import contextlib
import functools
import os
import resource
import select
import shutil
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .spawn import spawn

__all__ = ["ProcessHandle", "ProcessResult", "run_process"]

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
_PIDFD = "pidfd"
_WAKE = "wake"


@dataclass
class ProcessResult:
    exit_code: int | None = None
    signal: int | None = None
    timed_out: bool = False
    cancelled: bool = False
    started_at: float = 0.0
    ended_at: float = 0.0
    wall_s: float = 0.0
    cpu_user_s: float = 0.0
    cpu_sys_s: float = 0.0
    peak_rss_bytes: int = 0
    error: str | None = None
    pid: int | None = None

    @property
    def cpu_s(self) -> float:
        return self.cpu_user_s + self.cpu_sys_s

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not (self.timed_out or self.cancelled or self.error)


def _trusted_maxrss(rusage: Any) -> int:
    """wait4's ru_maxrss, unless it may be ours.

    A child starts life in (a copy of) this process's memory, and the kernel carries that
    memory's high-water mark into the child's ru_maxrss when it execs. So a child figure at or
    below our own peak says nothing about the child: then only the sampled figures count.
    """
    if rusage is None:
        return 0
    child = rusage.ru_maxrss * 1024
    return child if child > resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 else 0


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # a member changed uid: it exists
    return True


class ProcessHandle:
    """Created by run_process's caller so another thread can cancel it."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.pgid: int | None = None
        # Guards every field below: cancel() and usage() run on other threads than run_process.
        self._lock = threading.Lock()
        self._used = False
        self._cancelled = False
        self._cancel_grace = 5.0
        self._term_sent = False
        self._reaped = False
        self._wake_fd: int | None = None
        self._peak_rss = 0

    def cancel(self, grace: float = 5.0) -> None:
        """SIGTERM the process group now and SIGKILL it `grace` seconds later."""
        with self._lock:
            self._cancel_grace = min(grace, self._cancel_grace) if self._cancelled else grace
            self._cancelled = True
            # Signal from here rather than waiting for the run loop, which may be busy in on_line.
            self._send_term_locked()
            if self._wake_fd is not None:
                os.eventfd_write(self._wake_fd, 1)

    def _send_term_locked(self) -> None:
        # Once only: a second SIGTERM makes many programs skip their graceful shutdown.
        if self.pgid is not None and not self._reaped and not self._term_sent:
            self._term_sent = True
            _killpg(self.pgid, signal.SIGTERM)

    def usage(self) -> tuple[float, int]:
        """(CPU seconds so far, current RSS bytes) of the process tree; (0.0, 0) if not running.

        Walks the tree through /proc/<pid>/task/<tid>/children rather than psutil's children(),
        which reads every process on the machine to find one tree.
        """
        with self._lock:
            if self.pid is None or self._reaped:
                return 0.0, 0
            root = self.pid
        cpu, rss = 0.0, 0
        stack = [root]
        seen: set[int] = set()
        while stack:
            pid = stack.pop()
            if pid in seen:
                continue
            seen.add(pid)
            stat = _proc_stat(pid)
            if stat is None:
                continue
            # utime, stime and (already reaped) children's cutime, cstime, then rss in pages.
            cpu += (stat[11] + stat[12] + stat[13] + stat[14]) / _CLOCK_TICKS
            rss += stat[21] * _PAGE_SIZE
            stack.extend(_children(pid))
        with self._lock:
            self._peak_rss = max(self._peak_rss, rss)
        return cpu, rss


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _proc_stat(pid: int) -> list[int] | None:
    """The numeric fields of /proc/<pid>/stat after the command name (index 0 is `state`)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
        fields = data[data.rindex(b")") + 2 :].split()
        return [0] + [int(f) for f in fields[1:]]
    except (OSError, ValueError):
        return None


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                found.extend(int(c) for c in fh.read().split())
    except (OSError, ValueError):
        pass
    return found


def _cut_point(data: bytes, limit: int) -> int:
    # Back off to a UTF-8 character start so a split piece does not end in mojibake.
    cut = limit
    while cut > max(limit - 3, 1) and data[cut] & 0xC0 == 0x80:
        cut -= 1
    return cut if data[cut] & 0xC0 != 0x80 else limit


class _LineSplitter:
    __slots__ = ("buf", "cut", "limit", "name", "on_line")

    def __init__(
        self, name: str, on_line: Callable[[str, str], None], limit: int, cut: Callable[[bytes, int], int] | None
    ) -> None:
        self.name, self.on_line, self.limit, self.cut, self.buf = name, on_line, limit, cut, b""

    def feed(self, data: bytes) -> None:
        if self.buf:
            data = self.buf + data
        *lines, rest = data.split(b"\n")
        for line in lines:
            self._emit(line[:-1] if line.endswith(b"\r") else line)
        # An endless line is passed on in pieces, so the buffer never grows past the limit.
        self.buf = self._emit_pieces(rest) if len(rest) > self.limit else rest

    def flush(self) -> None:
        if self.buf:
            self._emit(self.buf)
            self.buf = b""

    def _emit_pieces(self, data: bytes) -> bytes:
        while len(data) > self.limit:
            cut = _cut_point(data, self.limit)
            if self.cut is not None:  # not through a secret: each piece is masked on its own
                cut = self.cut(data, cut) or cut
            self.on_line(self.name, data[:cut].decode("utf-8", "replace"))
            data = data[cut:]
        return data

    def _emit(self, line: bytes) -> None:
        if len(line) > self.limit:
            line = self._emit_pieces(line)
        self.on_line(self.name, line.decode("utf-8", "replace"))


@functools.lru_cache(maxsize=512)
def _executable(name: str, path: str) -> str | None:
    """Where a bare program name is on PATH, looked up once rather than by Popen for each task
    (it joins and encodes every PATH entry). None: let Popen search (a path, or a relative PATH
    entry, which depends on the task's working directory)."""
    if not name or "/" in name or any(not os.path.isabs(entry) for entry in path.split(os.pathsep)):
        return None
    return shutil.which(name, path=path)


def run_process(
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
) -> ProcessResult:
    """Run argv to completion; never raises for a command that cannot start (see .error).

    A line longer than max_line_bytes is passed on in pieces; `line_cut(data, cut)` may move
    each cut (a masker keeps a secret whole within one piece)."""
    if max_line_bytes < 1:
        raise ValueError("max_line_bytes must be at least 1")
    handle = handle if handle is not None else ProcessHandle()
    with handle._lock:
        if handle._used:
            raise RuntimeError("a ProcessHandle can run only one process")
        handle._used = True
        cancelled_early = handle._cancelled
    started_at, t0 = time.time(), time.monotonic()
    if cancelled_early:
        return ProcessResult(cancelled=True, started_at=started_at, ended_at=time.time())
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
        return ProcessResult(started_at=started_at, ended_at=time.time(), error=f"cannot start: {exc}")
    pid = child.pid  # == pgid: a new session
    # select.poll rather than selectors/epoll: no extra fd and no Python-level bookkeeping,
    # which is measurable when a task is as short as `true`.
    poller = select.poll()
    tags: dict[int, object] = {}
    pipes: dict[int, _LineSplitter | None] = {}
    pidfd = wake_fd = None
    exited = False
    status: int | None = None
    rusage = None
    error: str | None = None
    timed_out = cancelled = killed = stop_draining = False
    kill_at: float | None = None  # set once the group got SIGTERM: SIGKILL is due then
    exit_at = 0.0

    def reap(options: int) -> bool:
        nonlocal exited, status, rusage, error, exit_at, cancelled
        with handle._lock:
            try:
                wpid, wstatus, ru = os.wait4(pid, options)
            except ChildProcessError:  # someone else (a stray os.wait()) reaped it
                wpid, wstatus, ru = pid, None, None
                error = "exit status lost: reaped elsewhere"
            if not wpid:
                return False
            handle._reaped = True
            # Decided under the lock: a cancel() that won the race may have sent the
            # SIGTERM this process died of, before the loop saw its wake-up.
            cancelled = handle._cancelled
        exited, status, rusage, exit_at = True, wstatus, ru, time.monotonic()
        return True

    try:
        for name, fd in (("stdout", child.stdout), ("stderr", child.stderr)):
            splitter = _LineSplitter(name, on_line, max_line_bytes, line_cut) if on_line else None
            pipes[fd] = tags[fd] = splitter
            poller.register(fd, select.POLLIN)
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        else:
            tags[pidfd] = _PIDFD
            poller.register(pidfd, select.POLLIN)
        wake_fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        tags[wake_fd] = _WAKE
        poller.register(wake_fd, select.POLLIN)
        with handle._lock:
            handle.pid = handle.pgid = pid
            handle._wake_fd = wake_fd
            if handle._cancelled:  # cancel() ran between the pre-start check and Popen
                handle._send_term_locked()
                os.eventfd_write(wake_fd, 1)
        if on_start is not None:
            on_start(pid)

        deadline = t0 + timeout if timeout is not None else None
        sample_every = _SAMPLE_FIRST_S
        sample_at = t0 + sample_every
        poll = 0.001
        while True:
            now = time.monotonic()
            if not exited and kill_at is None and deadline is not None and now >= deadline:
                timed_out = True
                with handle._lock:
                    handle._send_term_locked()
                kill_at = now + kill_grace
            if kill_at is not None and not killed and now >= kill_at:
                killed = True
                _killpg(pid, signal.SIGKILL)
            wake_times = []
            if exited:
                drain_until = max(exit_at + DRAIN_AFTER_EXIT_S, kill_at or 0.0)
                if stop_draining or now >= drain_until:
                    break
                if pipes:
                    wake_times.append(drain_until)
                elif kill_at is None or killed or not _group_alive(pid):
                    break
                else:  # after SIGTERM the rest of the group keeps its grace period
                    wake_times.append(now + _GROUP_POLL_S)
            elif kill_at is None and deadline is not None:
                wake_times.append(deadline)
            if kill_at is not None and not killed:
                wake_times.append(kill_at)
            if not exited:
                # Memory samples at 50 ms, 100 ms, ... then every second: wait4's peak can't be
                # trusted for a child smaller than us (_trusted_maxrss), so these are the figure.
                if now >= sample_at:
                    handle.usage()
                    sample_every = min(sample_every * 2, _SAMPLE_MAX_S)
                    sample_at = now + sample_every
                wake_times.append(sample_at)
            wait = max(0.0, min(wake_times) - now) if wake_times else None
            if pidfd is None and not exited:
                wait = poll if wait is None else min(wait, poll)
                poll = min(poll * 2, _FALLBACK_POLL_MAX_S)

            # POLLHUP/POLLERR come without POLLIN at EOF, so any event means "go read".
            for fd, _ in poller.poll(None if wait is None else wait * 1000):
                tag = tags[fd]
                if tag is _PIDFD:
                    poller.unregister(fd)  # it stays readable once the process exited
                    reap(0)
                elif tag is _WAKE:
                    os.eventfd_read(fd)
                    if exited:  # too late to cancel: just stop waiting for stragglers
                        stop_draining = True
                        continue
                    with handle._lock:
                        handle._send_term_locked()
                        grace_at = time.monotonic() + handle._cancel_grace
                    kill_at = grace_at if kill_at is None else min(kill_at, grace_at)
                else:
                    chunk = os.read(fd, _READ_SIZE)  # poll said readable: cannot block
                    if chunk:
                        if tag is not None:
                            tag.feed(chunk)
                        continue
                    poller.unregister(fd)
                    del pipes[fd]
                    if tag is not None:
                        tag.flush()
            if pidfd is None and not exited:
                reap(os.WNOHANG)

        # Nothing of the task may outlive it: kill whatever of the group is left.
        _killpg(pid, signal.SIGKILL)
        # Pipes still open here were held by children that were just killed.
        for fd, splitter in pipes.items():
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
    except BaseException:
        # Also when on_line or on_start raise: kill the group and reap, then let the error go.
        _killpg(pid, signal.SIGKILL)
        if not exited:
            reap(0)
        raise
    finally:
        with handle._lock:
            handle._wake_fd = None
            handle._reaped = True
        for fd in (pidfd, wake_fd):
            if fd is not None:
                os.close(fd)
        child.close(-1 if status is None else os.waitstatus_to_exitcode(status))

    code = None if status is None else os.waitstatus_to_exitcode(status)
    ended_at = time.time()
    peak_rss = max(_trusted_maxrss(rusage), handle._peak_rss)
    return ProcessResult(
        exit_code=code if code is not None and code >= 0 else None,
        signal=-code if code is not None and code < 0 else None,
        timed_out=timed_out,
        cancelled=cancelled,
        started_at=started_at,
        ended_at=ended_at,
        wall_s=time.monotonic() - t0,
        cpu_user_s=rusage.ru_utime if rusage else 0.0,
        cpu_sys_s=rusage.ru_stime if rusage else 0.0,
        peak_rss_bytes=peak_rss,
        error=error,
        pid=pid,
    )
