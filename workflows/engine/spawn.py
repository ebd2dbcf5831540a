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
from collections.abc import Iterator, Mapping, Sequence
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


class FixedEnv:
    """Variables that many starts share (what every task of a run gets: the server's allowed
    variables, the workflow's constant `env:`, the run-wide ones of the run's hooks), encoded as
    `KEY=value` once, at the first start that uses them, not at each."""

    __slots__ = ("_entries", "_listed", "_lock", "values")

    def __init__(self, values: Mapping[str, str]):
        self.values = dict(values)
        self._entries: dict[str, bytes] | None = None
        self._listed: list[bytes] = []
        self._lock = threading.Lock()

    def entries(self) -> dict[str, bytes]:
        entries = self._entries
        if entries is None:
            with self._lock:  # a matrix's legs may start at once: encode once
                if self._entries is None:
                    # Raises ValueError for a bad name at that start, as Popen would.
                    encoded = {key: encode_entry(key, value) for key, value in self.values.items()}
                    self._listed = list(encoded.values())
                    self._entries = encoded
                entries = self._entries
        return entries


class EncodedEnv(Mapping[str, str]):
    """Variables kept as the `KEY=value` entries a start passes on, encoded when made: for
    variables that are not secrets and are made ahead of their start (a run hook that works out
    many tasks' at once), so that the start's thread does not encode them again. `names`: their
    names in the entries' order (one tuple may serve many). Read as a mapping, a value is decoded
    from its entry."""

    __slots__ = ("entries", "names")

    def __init__(self, names: tuple[str, ...], entries: list[bytes]):
        """`entries` must be what encode_entry makes of each name and its value (see `of`)."""
        self.names, self.entries = names, entries

    @classmethod
    def of(cls, values: Mapping[str, str]) -> EncodedEnv:
        return cls(tuple(values), [encode_entry(key, value) for key, value in values.items()])

    def __getitem__(self, key: str) -> str:
        try:
            entry = self.entries[self.names.index(key)]
        except ValueError:
            raise KeyError(key) from None
        return entry[len(key.encode(_FS_ENCODING, _FS_ERRORS)) + 1 :].decode(_FS_ENCODING, _FS_ERRORS)

    def __contains__(self, key: object) -> bool:
        return key in self.names

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


class TaskEnv(Mapping[str, str]):
    """One start's environment: a FixedEnv's variables, then this start's own, then its hooks'
    (later ones win).

    A mapping to everyone else (Popen takes it as one); a direct start reuses the fixed part's
    encoded entries and the hooks' when they come encoded (EncodedEnv), and encodes only this
    start's own variables, which may hold secrets and are not kept anywhere. Nothing is copied
    when it is made: its parts are not to be changed afterwards."""

    __slots__ = ("_extra", "_fixed", "_merged", "_own")

    def __init__(self, fixed: FixedEnv, own: Mapping[str, str], extra: Mapping[str, str] | None = None):
        self._fixed, self._own, self._extra = fixed, own, extra if extra is not None else {}
        self._merged: dict[str, str] | None = None

    def _all(self) -> dict[str, str]:
        merged = self._merged
        if merged is None:
            merged = self._merged = {**self._fixed.values, **self._own, **self._extra}
        return merged

    def __getitem__(self, key: str) -> str:
        for part in (self._extra, self._own, self._fixed.values):
            if key in part:
                return part[key]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def encoded(self) -> list[bytes]:
        own, extra, fixed = self._own, self._extra, self._fixed
        encoded = type(extra) is EncodedEnv
        names = extra.names if encoded else extra.keys()  # type: ignore[attr-defined]
        entries = fixed.entries()
        shared = entries.keys()
        if shared.isdisjoint(own) and shared.isdisjoint(names):  # the usual case: the shared list as it is
            block = fixed._listed[:]
        else:  # this start overrides a shared variable
            block = [entry for key, entry in entries.items() if key not in own and key not in extra]
        if own.keys().isdisjoint(names):
            block += [encode_entry(key, value) for key, value in own.items()]
        else:
            block += [encode_entry(key, value) for key, value in own.items() if key not in extra]
        block += extra.entries if encoded else [encode_entry(k, v) for k, v in extra.items()]  # type: ignore[attr-defined]
        return block


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


_FS_ENCODING, _FS_ERRORS = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()


def encode_entry(key: str, value: str) -> bytes:
    """`KEY=value` as Popen encodes it (os.fsencode of each), refusing a name with `=`."""
    if type(key) is str and type(value) is str:  # one encode, not two os.fsencode calls
        if "=" in key:
            raise ValueError("illegal environment variable name")
        return f"{key}={value}".encode(_FS_ENCODING, _FS_ERRORS)
    name = os.fsencode(key)
    if b"=" in name:
        raise ValueError("illegal environment variable name")
    return name + b"=" + os.fsencode(value)


def _encoded(env: Mapping[str, str]) -> list[bytes]:
    if type(env) is TaskEnv:
        return env.encoded()
    return [encode_entry(key, value) for key, value in env.items()]


def _stdin() -> int:
    """/dev/null, opened once for every task's stdin (Popen opens it for each)."""
    global _devnull
    if _devnull is None:
        with _devnull_lock:  # the first tasks of a run start at once: open it once
            if _devnull is None:
                _devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    return _devnull


def _fork_exec(argv: Sequence[str], executable: str, env: Mapping[str, str] | None, cwd: str | None) -> Child:
    env_list = None if env is None else _encoded(env)
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
