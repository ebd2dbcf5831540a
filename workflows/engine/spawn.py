"""Start a task's process: its own session, stdin from /dev/null, stdout and stderr on pipes.

subprocess.Popen does this in C (vfork, close_range, exec) wrapped in Python: file objects for
the pipes, an ExitStack, the environment encoded pair by pair, each call. For a task as short as
`true`, that Python part cost as much as the C part (290 µs against 150 µs of this process's CPU
a start, measured here). So on the CPython versions whose signature it was checked against, the
same C function Popen calls (`_posixsubprocess.fork_exec`) is called directly with the same
arguments Popen gives it: the same child (new session, every other fd closed, SIGPIPE and
SIGXFSZ back to default, the working directory), at about half the cost. Everywhere else, or if
that call is refused, Popen itself.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any

log = logging.getLogger("runner.spawn")

try:  # CPython's own module behind subprocess; not a public API, hence the checks below
    import _posixsubprocess
except ImportError:  # pragma: no cover - not CPython on POSIX
    _posixsubprocess = None  # type: ignore[assignment]

# The argument list below is the one CPython 3.11's Popen gives fork_exec in the releases that have
# subprocess._USE_VFORK (3.11.7 here; tests/engine/test_spawn.py compares it with Popen's source).
# Any other version uses Popen.
_direct = (
    _posixsubprocess is not None
    and sys.implementation.name == "cpython"
    and sys.version_info[:2] == (3, 11)
    and hasattr(subprocess, "_USE_VFORK")
)
_devnull: int | None = None
_devnull_lock = threading.Lock()
# Encoded `KEY=value` entries of the server's own environment, which every task inherits. Nothing
# else is kept: a task's other variables may hold secret values, which must not outlive the run.
_env_entries: dict[tuple[str, str], bytes] = {}
_ENV_CACHE_MAX = 8192


class Child:
    """A started process: its pid and the read ends of its stdout and stderr pipes."""

    __slots__ = ("_popen", "pid", "stderr", "stdout")

    def __init__(self, pid: int, stdout: int, stderr: int, popen: subprocess.Popen | None = None):
        self.pid, self.stdout, self.stderr, self._popen = pid, stdout, stderr, popen

    def close(self, returncode: int) -> None:
        """Close the pipes (the process was reaped by the caller, with this return code)."""
        if self._popen is not None:
            for stream in (self._popen.stdout, self._popen.stderr):
                if stream is not None:
                    stream.close()
            self._popen.returncode = returncode  # reaped: keeps Popen.__del__ from warning
            return
        for fd in (self.stdout, self.stderr):
            try:
                os.close(fd)
            except OSError:
                pass


def spawn(argv: Sequence[str], executable: str | None, env: Mapping[str, str] | None, cwd: str | None) -> Child:
    """Start argv; raises OSError (FileNotFoundError for a missing program or directory) or
    ValueError like Popen. `executable`: the program's path, found by the caller (None: Popen
    searches the PATH in `env`)."""
    global _direct
    if _direct and argv and (executable is not None or "/" in argv[0]):
        try:
            return _fork_exec(argv, executable or argv[0], env, cwd)
        except TypeError:
            if not _direct:
                raise
            # The interpreter's fork_exec takes other arguments: use Popen from now on.
            _direct = False
            log.warning("starting tasks through subprocess.Popen: this Python's fork_exec differs", exc_info=True)
    return _popen(argv, executable, env, cwd)


def _popen(argv: Sequence[str], executable: str | None, env: Mapping[str, str] | None, cwd: str | None) -> Child:
    proc = subprocess.Popen(
        list(argv),
        executable=executable,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
        close_fds=True,
        start_new_session=True,
        bufsize=0,
    )
    assert proc.stdout is not None and proc.stderr is not None
    return Child(proc.pid, proc.stdout.fileno(), proc.stderr.fileno(), proc)


def _env_entry(key: str, value: str) -> bytes:
    entry = _env_entries.get((key, value))
    if entry is None:
        name = os.fsencode(key)
        if b"=" in name:
            raise ValueError("illegal environment variable name")
        entry = name + b"=" + os.fsencode(value)
        if os.environ.get(key) == value:
            if len(_env_entries) >= _ENV_CACHE_MAX:
                _env_entries.clear()
            _env_entries[(key, value)] = entry
    return entry


def _stdin() -> int:
    """/dev/null, opened once for every task's stdin (Popen opens it for each)."""
    global _devnull
    if _devnull is None:
        with _devnull_lock:  # the first tasks of a run start at once: open it once
            if _devnull is None:
                _devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    return _devnull


def _fork_exec(argv: Sequence[str], executable: str, env: Mapping[str, str] | None, cwd: str | None) -> Child:
    env_list = None if env is None else [_env_entry(k, v) for k, v in env.items()]
    program = (os.fsencode(executable),)
    stdin = _stdin()
    fds: list[int] = []
    try:
        out_r, out_w = os.pipe()
        fds += (out_r, out_w)
        err_r, err_w = os.pipe()
        fds += (err_r, err_w)
        # Where the child reports a failed chdir or exec ("OSError:errno:..."); closed by its exec.
        report_r, report_w = os.pipe()
        fds += (report_r, report_w)
        if min(fds) < 3:  # stdio was closed: Popen knows how to keep the pipes off fds 0-2
            raise _UsePopen
        pid = _posixsubprocess.fork_exec(
            list(argv), program, True, (report_w,), cwd, env_list,
            stdin, -1, out_r, out_w, err_r, err_w, report_r, report_w,
            True, True, -1, None, None, None, -1, None, subprocess._USE_VFORK,  # type: ignore[attr-defined]
        )  # fmt: skip
    except _UsePopen:
        _close(fds)
        return _popen(argv, executable, env, cwd)
    except BaseException:
        _close(fds)
        raise
    _close((out_w, err_w, report_w))
    try:
        report = b""
        while part := os.read(report_r, 50000):
            report += part
            if len(report) > 50000:
                break
    finally:
        os.close(report_r)
    if not report:
        return Child(pid, out_r, err_r)
    _close((out_r, err_r))
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    raise _child_error(report, executable, cwd)


def _child_error(report: bytes, executable: str, cwd: str | None) -> Exception:
    """The exception Popen raises for the same report."""
    try:
        name, hex_errno, message = report.split(b":", 2)
        text = message.decode()
        number = int(hex_errno, 16)
    except ValueError:
        return subprocess.SubprocessError(f"bad report from the child: {report!r}")
    if name == b"OSError" and number:
        # "noexec": the child failed before exec, at chdir(cwd).
        return OSError(number, os.strerror(number), cwd if text == "noexec" else executable)
    return subprocess.SubprocessError(text)


def _close(fds: Any) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


class _UsePopen(Exception):
    pass
