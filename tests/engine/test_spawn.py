"""workflows.engine.spawn: the child a task gets is the same whichever way it is started (the
direct fork_exec call or Popen), and start failures raise what Popen raises."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from workflows.engine import spawn

# Prints what the child sees of its own process: session, fds, cwd, env, stdin.
PROBE = """
import json, os, sys
print(json.dumps({
    "pid": os.getpid(), "sid": os.getsid(0), "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
    "cwd": os.getcwd(), "env": dict(os.environ),
    "stdin": sys.stdin.read(), "stdin_target": os.readlink("/proc/self/fd/0"),
}))
"""


@pytest.fixture(params=["fork_exec", "popen"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(spawn, "_direct", request.param == "fork_exec")
    return request.param


def finish(child: spawn.Child) -> tuple[bytes, bytes, int]:
    out = b"".join(iter(lambda: os.read(child.stdout, 65536), b""))
    err = b"".join(iter(lambda: os.read(child.stderr, 65536), b""))
    _, status = os.waitpid(child.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    child.close(code)
    return out, err, code


def test_this_python_starts_tasks_directly() -> None:
    assert spawn._direct, "CPython 3.11 on Linux should take the direct path"


def test_the_child_is_the_same_either_way(path: str, tmp_path: Path) -> None:
    leaked = os.open(os.devnull, os.O_RDONLY)  # inheritable: only close_fds keeps it from the child
    os.set_inheritable(leaked, True)
    try:
        env = {"PATH": os.environ["PATH"], "RUNNER_X": "ünïcode = value", "EMPTY": ""}
        child = spawn.spawn([sys.executable, "-c", PROBE], sys.executable, env, str(tmp_path))
        out, err, code = finish(child)
    finally:
        os.close(leaked)
    assert code == 0, err
    seen = json.loads(out)
    assert seen["pid"] == child.pid and seen["sid"] == child.pid  # a session (and group) of its own
    assert seen["fds"] == [0, 1, 2, 3] or seen["fds"] == [0, 1, 2]  # 3: listdir's own fd
    assert seen["cwd"] == str(tmp_path)
    assert {k: v for k, v in seen["env"].items() if k != "LC_CTYPE"} == env
    assert seen["stdin"] == "" and seen["stdin_target"] == "/dev/null"


def test_signals_python_ignores_are_default_in_the_child(path: str) -> None:
    """Python ignores SIGPIPE and SIGXFSZ; a task must not inherit that (`yes | head` would never end)."""
    assert signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN
    out, _, code = finish(spawn.spawn(["/bin/grep", "SigIgn", "/proc/self/status"], "/bin/grep", None, None))
    ignored = int(out.split(b":")[1].strip(), 16)
    assert code == 0
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        assert not ignored & (1 << (sig - 1)), sig


def test_the_output_arrives_on_the_pipes(path: str) -> None:
    child = spawn.spawn(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"], "/bin/sh", None, None)
    assert finish(child) == (b"out\n", b"err\n", 3)


def test_a_path_in_argv_needs_no_executable(path: str) -> None:
    out, _, code = finish(spawn.spawn(["/bin/echo", "hi"], None, None, None))
    assert (out, code) == (b"hi\n", 0)


def test_missing_program(path: str, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        spawn.spawn([str(tmp_path / "nope")], str(tmp_path / "nope"), None, None)
    assert caught.value.filename == str(tmp_path / "nope")


def test_missing_working_directory_names_it(path: str, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        spawn.spawn(["/bin/true"], "/bin/true", None, str(tmp_path / "gone"))
    assert caught.value.filename == str(tmp_path / "gone")


def test_not_executable(path: str, tmp_path: Path) -> None:
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(stat.S_IRUSR | stat.S_IWUSR)
    if os.access(script, os.X_OK):
        pytest.skip("this user can execute anything (root with an exec bit set somewhere)")
    with pytest.raises(PermissionError):
        spawn.spawn([str(script)], str(script), None, None)


def test_bad_environment_is_a_value_error(path: str) -> None:
    with pytest.raises(ValueError):
        spawn.spawn(["/bin/true"], "/bin/true", {"A=B": "x"}, None)
    with pytest.raises(ValueError):
        spawn.spawn(["/bin/true"], "/bin/true", {"A": "nul\0byte"}, None)


def test_no_fd_is_left_open_by_failures(path: str, tmp_path: Path) -> None:
    finish(spawn.spawn(["/bin/true"], "/bin/true", None, None))  # /dev/null is opened once, lazily
    before = sorted(os.listdir("/proc/self/fd"))
    for _ in range(3):
        with pytest.raises(OSError):
            spawn.spawn(["/bin/true"], "/bin/true", None, str(tmp_path / "gone"))
        with pytest.raises(OSError):
            spawn.spawn([str(tmp_path / "nope")], str(tmp_path / "nope"), None, None)
        finish(spawn.spawn(["/bin/true"], "/bin/true", None, None))
    assert sorted(os.listdir("/proc/self/fd")) == before


def test_a_refused_direct_call_falls_back_to_popen(monkeypatch: pytest.MonkeyPatch) -> None:
    """If this interpreter's fork_exec took other arguments, tasks still start (through Popen)."""
    monkeypatch.setattr(spawn, "_direct", True)
    calls = []

    def other_signature(*args: object) -> int:
        calls.append(len(args))
        raise TypeError("fork_exec() takes exactly 21 arguments")

    monkeypatch.setattr(spawn._posixsubprocess, "fork_exec", other_signature)
    out, _, code = finish(spawn.spawn(["/bin/echo", "still"], "/bin/echo", None, None))
    assert (out, code, calls) == (b"still\n", 0, [23])
    assert spawn._direct is False  # and it is not tried again
    finish(spawn.spawn(["/bin/true"], "/bin/true", None, None))
    assert calls == [23]


def test_popen_is_what_the_direct_call_copies() -> None:
    """The argument list given to fork_exec is Popen's own: if Popen's call changes shape, this fails."""
    import inspect

    source = inspect.getsource(subprocess.Popen._execute_child)
    start = source.index("_fork_exec(")
    call = "".join(source[start : source.index(")", source.index("_USE_VFORK", start)) + 1].split())
    assert call == (
        "_fork_exec(args,executable_list,close_fds,tuple(sorted(map(int,fds_to_keep))),cwd,env_list,"
        "p2cread,p2cwrite,c2pread,c2pwrite,errread,errwrite,errpipe_read,errpipe_write,"
        "restore_signals,start_new_session,process_group,gid,gids,uid,umask,preexec_fn,_USE_VFORK)"
    )


def test_a_task_env_is_its_fixed_part_then_its_own(path: str) -> None:
    """Its own variables win over the fixed ones; the child sees exactly the merged mapping."""
    fixed = spawn.FixedEnv({"PATH": os.environ["PATH"], "SHARED": "fixed", "KEPT": "ünï = code"})
    env = spawn.TaskEnv(fixed, {"SHARED": "own", "OWN": ""})
    assert env == {"PATH": os.environ["PATH"], "SHARED": "own", "KEPT": "ünï = code", "OWN": ""}
    out, err, code = finish(spawn.spawn([sys.executable, "-c", PROBE], sys.executable, env, None))
    assert code == 0, err
    assert {k: v for k, v in json.loads(out)["env"].items() if k != "LC_CTYPE"} == env


def test_only_the_fixed_part_is_kept_encoded(path: str) -> None:
    """A start's own variables may be secrets: their encoded form must not outlive the start,
    while the fixed part is encoded once for every start that shares it."""
    fixed = spawn.FixedEnv({"PATH": os.environ["PATH"]})
    secret = "s3cret-value-that-must-not-stay"
    encoded = []
    for _ in range(2):
        finish(spawn.spawn(["/bin/true"], "/bin/true", spawn.TaskEnv(fixed, {"RUNNER_SECRET": secret}), None))
        encoded.append(fixed._entries)
    if path == "fork_exec":
        assert encoded[0] is encoded[1]  # not encoded again
        assert fixed._entries == {"PATH": f"PATH={os.environ['PATH']}".encode()}
    assert secret.encode() not in b"".join((fixed._entries or {}).values())
    assert secret.encode() not in b"".join(fixed._listed)  # each start adds its own to a copy


def test_a_start_that_overrides_nothing_gets_the_shared_part_and_its_own(path: str) -> None:
    fixed = spawn.FixedEnv({"PATH": os.environ["PATH"], "SHARED": "fixed"})
    for own in ({"OWN": "1"}, {"SHARED": "own"}, {"OWN": "2"}):
        env = spawn.TaskEnv(fixed, own)
        out, err, code = finish(spawn.spawn([sys.executable, "-c", PROBE], sys.executable, env, None))
        assert code == 0, err
        assert {k: v for k, v in json.loads(out)["env"].items() if k != "LC_CTYPE"} == {
            "PATH": os.environ["PATH"], "SHARED": "fixed", **own,
        }  # fmt: skip


@pytest.mark.parametrize("encoded", [True, False])
def test_the_hooks_variables_win_and_come_encoded_or_not(path: str, encoded: bool) -> None:
    """A hook's variables (the trace context: an EncodedEnv, encoded ahead of the start) win over
    the start's own and the fixed ones; the child sees exactly the merged mapping, with no name
    twice, and the mapping reads as that too."""
    fixed = spawn.FixedEnv({"PATH": os.environ["PATH"], "SHARED": "fixed", "BOTH": "fixed"})
    own = {"OWN": "own", "BOTH": "own", "MINE": "own"}
    hooks = {"MINE": "hook", "SHARED": "hook", "TRACEPARENT": "00-ab-cd-01"}
    extra = spawn.EncodedEnv.of(hooks) if encoded else dict(hooks)
    env = spawn.TaskEnv(fixed, own, extra)
    expected = {"PATH": os.environ["PATH"], "SHARED": "hook", "BOTH": "own", "OWN": "own", "MINE": "hook",
                "TRACEPARENT": "00-ab-cd-01"}  # fmt: skip
    assert env == expected and env["MINE"] == "hook" and env.get("NONE") is None and len(env) == len(expected)
    if path == "fork_exec":
        block = env.encoded()
        assert sorted(block) == sorted(f"{k}={v}".encode() for k, v in expected.items())
    out, err, code = finish(spawn.spawn([sys.executable, "-c", PROBE], sys.executable, env, None))
    assert code == 0, err
    assert {k: v for k, v in json.loads(out)["env"].items() if k != "LC_CTYPE"} == expected


def test_an_entry_is_encoded_as_popen_encodes_it() -> None:
    """Undecodable bytes (surrogate escapes) and non-ASCII text come out as os.fsencode makes them."""
    for key, value in (("K", "a\udcffb"), ("ÜBER", "ünï = code"), ("E", ""), (b"RAW", b"\xff")):
        assert spawn.encode_entry(key, value) == os.fsencode(key) + b"=" + os.fsencode(value)


@pytest.mark.parametrize("where", ["fixed", "own"])
def test_a_bad_variable_name_is_refused_as_popen_refuses_it(path: str, where: str) -> None:
    bad = {"A=B": "x"}
    fixed = spawn.FixedEnv(bad if where == "fixed" else {})
    with pytest.raises(ValueError, match="illegal environment variable name"):
        spawn.spawn(["/bin/true"], "/bin/true", spawn.TaskEnv(fixed, bad if where == "own" else {}), None)
