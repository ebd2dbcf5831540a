"""A task process's handle and its result: cancelling it from another thread, the CPU time and
memory of its process tree read from /proc, and what it ended with."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import threading
from dataclasses import dataclass
from typing import Any


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


def trusted_maxrss(rusage: Any) -> int:
    """wait4's ru_maxrss, unless it may be ours.

    A child starts life in (a copy of) this process's memory, and the kernel carries that
    memory's high-water mark into the child's ru_maxrss when it execs. So a child figure at or
    below our own peak says nothing about the child: then only the sampled figures count.
    """
    if rusage is None:
        return 0
    child = rusage.ru_maxrss * 1024
    return child if child > resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 else 0


def killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def group_alive(pgid: int) -> bool:
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
        self._cancels = 0  # how many times cancel() was called: the loop acts on each
        self._term_sent = False
        self._reaped = False
        self._wake_fd: int | None = None
        self._peak_rss = 0

    def cancel(self, grace: float = 5.0) -> None:
        """SIGTERM the process group now and SIGKILL it `grace` seconds later."""
        with self._lock:
            self._cancel_grace = min(grace, self._cancel_grace) if self._cancelled else grace
            self._cancelled = True
            self._cancels += 1
            # Signal from here rather than waiting for the run loop, which may be busy in on_line.
            self._send_term_locked()
            if self._wake_fd is not None:
                os.eventfd_write(self._wake_fd, 1)

    def _send_term_locked(self) -> None:
        # Once only: a second SIGTERM makes many programs skip their graceful shutdown.
        if self.pgid is not None and not self._reaped and not self._term_sent:
            self._term_sent = True
            killpg(self.pgid, signal.SIGTERM)

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
