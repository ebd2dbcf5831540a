"""Tests for workflows.engine.process: streaming, exit status, timeouts, cancellation, usage."""

from __future__ import annotations

import os
import signal
import stat
import sys
import threading
from pathlib import Path

import pytest

from workflows.engine import process, spawn
from workflows.engine.process import ProcessHandle, ProcessResult, run_process

from .conftest import gone, wait_until

PY = sys.executable
BUSY = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}:\n    pass"


@pytest.fixture(autouse=True, params=["fork_exec", "popen"])
def start_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs on both ways a task is started (spawn's direct call, and Popen)."""
    if request.param == "fork_exec" and not spawn._direct:
        pytest.fail("this Python should start tasks through fork_exec directly (see workflows/engine/spawn.py)")
    monkeypatch.setattr(spawn, "_direct", request.param == "fork_exec")
    return request.param


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def run(argv: list[str], lines: list[tuple[str, str]] | None = None, **kw: object) -> ProcessResult:
    kw.setdefault("timeout", 30)
    on_line = (lambda s, t: lines.append((s, t))) if lines is not None else None
    return run_process(argv, env=kw.pop("env", None), cwd=kw.pop("cwd", None), on_line=on_line, **kw)  # type: ignore[arg-type]


def sh(cmd: str, lines: list[tuple[str, str]] | None = None, **kw: object) -> ProcessResult:
    return run(["/bin/sh", "-c", cmd], lines, **kw)


# --- exit status -------------------------------------------------------------------


def test_exit_zero_is_ok() -> None:
    r = sh("true")
    assert r.exit_code == 0 and r.signal is None and r.error is None
    assert not r.timed_out and not r.cancelled
    assert r.ok and r.pid is not None
    assert r.ended_at >= r.started_at and r.wall_s >= 0


def test_exit_code_three() -> None:
    r = sh("exit 3")
    assert r.exit_code == 3 and r.signal is None and not r.ok


def test_killed_by_signal() -> None:
    r = sh("kill -9 $$")
    assert r.exit_code is None and r.signal == signal.SIGKILL and not r.ok
    assert not r.timed_out and not r.cancelled


def test_on_start_gets_pid_and_handle_is_filled() -> None:
    handle, seen = ProcessHandle(), []
    r = sh("true", handle=handle, on_start=seen.append)
    assert seen == [r.pid] and handle.pid == handle.pgid == r.pid


def test_handle_cannot_be_reused() -> None:
    handle = ProcessHandle()
    sh("true", handle=handle)
    with pytest.raises(RuntimeError):
        sh("true", handle=handle)


# --- output streaming --------------------------------------------------------------


def test_stdout_and_stderr_are_separated() -> None:
    lines: list[tuple[str, str]] = []
    sh("echo out1; echo err1 >&2; echo out2", lines)
    assert [t for s, t in lines if s == "stdout"] == ["out1", "out2"]
    assert [t for s, t in lines if s == "stderr"] == ["err1"]


def test_partial_last_line_and_crlf() -> None:
    lines: list[tuple[str, str]] = []
    sh(r"printf 'one\r\ntwo\n\nthree'", lines)
    assert lines == [
        ("stdout", "one"),
        ("stdout", "two"),
        ("stdout", ""),
        ("stdout", "three"),
    ]


def test_invalid_utf8_is_replaced() -> None:
    lines: list[tuple[str, str]] = []
    run(
        [PY, "-c", r"import sys; sys.stdout.buffer.write(b'ok\xff\xfebad\n\xc3\xa9')"],
        lines,
    )
    assert lines == [("stdout", "ok\ufffd\ufffdbad"), ("stdout", "é")]


def test_long_lines_are_split() -> None:
    lines: list[tuple[str, str]] = []
    code = r"import sys; sys.stdout.write('a' * 250 + '\nshort\n' + 'b' * 10)"
    run([PY, "-c", code], lines, max_line_bytes=100)
    assert [t for _, t in lines] == ["a" * 100, "a" * 100, "a" * 50, "short", "b" * 10]


def test_huge_line_arrives_in_bounded_pieces() -> None:
    lines: list[tuple[str, str]] = []
    code = "import sys; sys.stdout.write('x' * 300000 + '\\nend\\n')"
    run([PY, "-c", code], lines)
    pieces = [t for _, t in lines]
    assert pieces[-1] == "end" and "".join(pieces[:-1]) == "x" * 300000
    assert len(pieces) >= 6 and all(len(p) <= 65536 for p in pieces)


def test_split_does_not_cut_multibyte_characters() -> None:
    lines: list[tuple[str, str]] = []
    run([PY, "-c", "print('é' * 150)"], lines, max_line_bytes=101)
    pieces = [t for _, t in lines]
    assert len(pieces) >= 3 and "".join(pieces) == "é" * 150
    assert all("\ufffd" not in p and len(p.encode()) <= 101 for p in pieces)


def test_streaming_is_live(tmp_path: Path) -> None:
    fifo = tmp_path / "gate"
    os.mkfifo(fifo)
    first_seen, released = threading.Event(), threading.Event()
    seen_before_release: list[bool] = []

    def release() -> None:
        # Falls back to releasing after a timeout, so a non-live implementation fails, not hangs.
        first_seen.wait(10)
        released.set()
        with open(fifo, "w") as f:
            f.write("go\n")

    def on_line(stream: str, text: str) -> None:
        if text == "first":
            seen_before_release.append(not released.is_set())
            first_seen.set()

    threading.Thread(target=release, daemon=True).start()
    r = run_process(
        ["/bin/sh", "-c", f"echo first; read x < '{fifo}'; echo second"],
        env=None,
        cwd=None,
        timeout=30,
        on_line=on_line,
    )
    assert r.exit_code == 0 and seen_before_release == [True]


# --- environment, cwd, start failures ----------------------------------------------


def test_env_is_passed_as_is_and_cwd_is_used(tmp_path: Path) -> None:
    lines: list[tuple[str, str]] = []
    env = {"FOO": "bar", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    sh('echo "$FOO"; echo "${HOME-unset}"; pwd', lines, env=env, cwd=str(tmp_path))
    assert [t for _, t in lines] == ["bar", "unset", str(tmp_path)]


def test_missing_command_is_an_error_result() -> None:
    r = run(["nosuchcmd-xyz"])
    assert r.error is not None and r.error.startswith("cannot start: [Errno 2]")
    assert "nosuchcmd-xyz" in r.error
    assert r.exit_code is None and r.pid is None and not r.ok


def test_not_executable_is_an_error_result(tmp_path: Path) -> None:
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(stat.S_IRUSR | stat.S_IWUSR)
    if os.geteuid() == 0 and os.access(script, os.X_OK):
        pytest.skip("root can execute anything here")
    r = run([str(script)])
    assert r.error is not None and "Permission denied" in r.error and r.exit_code is None


def test_missing_cwd_is_an_error_result(tmp_path: Path) -> None:
    r = sh("true", cwd=str(tmp_path / "nope"))
    assert r.error is not None and r.error.startswith("cannot start:")
    assert r.exit_code is None and not r.ok


# --- timeouts, cancellation, process groups ----------------------------------------


def test_timeout_kills_the_whole_group() -> None:
    lines: list[tuple[str, str]] = []
    r = sh("sleep 30 & echo $!; sleep 30; wait", lines, timeout=0.5)
    grandchild = int(lines[0][1])
    assert r.timed_out and not r.cancelled and not r.ok
    assert r.signal == signal.SIGTERM and r.exit_code is None
    assert 0.5 <= r.wall_s < 5
    assert wait_until(lambda: gone(grandchild))


def test_timeout_escalates_to_sigkill_after_grace() -> None:
    # An ignored SIGTERM is inherited by sleep, so only SIGKILL ends this group.
    r = sh("trap '' TERM; sleep 30", timeout=0.3, kill_grace=0.3)
    assert r.timed_out and r.signal == signal.SIGKILL
    assert 0.55 <= r.wall_s < 5


def test_group_keeps_grace_period_after_main_exits(tmp_path: Path) -> None:
    # The main shell dies at once on SIGTERM; its background child needs a moment to clean up
    # and must get it, rather than an immediate SIGKILL, yet the run ends when it is done.
    mark = tmp_path / "cleaned"
    child = f"trap 'echo done > {mark}; exit 0' TERM; while :; do sleep 0.01; done"
    r = sh(f"( {child} ) >/dev/null 2>&1 & sleep 30", timeout=0.3, kill_grace=5)
    assert r.timed_out and mark.exists()
    assert r.wall_s < 4


def test_cancel_from_another_thread_kills_the_group() -> None:
    handle, lines = ProcessHandle(), []

    def on_line(stream: str, text: str) -> None:
        lines.append(text)
        threading.Thread(target=handle.cancel).start()

    r = run_process(
        ["/bin/sh", "-c", "sleep 30 & echo $!; wait"],
        env=None,
        cwd=None,
        timeout=30,
        on_line=on_line,
        handle=handle,
    )
    assert r.cancelled and not r.timed_out and not r.ok
    assert r.signal == signal.SIGTERM and r.wall_s < 5
    assert wait_until(lambda: gone(int(lines[0])))


def test_cancel_grace_then_sigkill() -> None:
    handle = ProcessHandle()

    def on_line(stream: str, text: str) -> None:
        threading.Thread(target=handle.cancel, args=(0.3,)).start()

    r = run_process(
        ["/bin/sh", "-c", "trap '' TERM; echo ready; sleep 30"],
        env=None,
        cwd=None,
        timeout=30,
        on_line=on_line,
        handle=handle,
    )
    assert r.cancelled and r.signal == signal.SIGKILL and 0.25 <= r.wall_s < 5


def test_cancel_racing_with_the_exit_it_causes_is_still_cancelled() -> None:
    # cancel() signals directly, so the process may be reaped before the loop sees the
    # wake-up; the result must still say cancelled.
    for _ in range(30):
        handle = ProcessHandle()

        def on_start(pid: int, handle: ProcessHandle = handle) -> None:
            threading.Thread(target=handle.cancel).start()

        r = sh("sleep 30", handle=handle, on_start=on_start)
        assert r.cancelled and r.signal == signal.SIGTERM and r.wall_s < 5


def test_cancel_before_start_never_starts(tmp_path: Path) -> None:
    handle = ProcessHandle()
    handle.cancel()
    r = sh(f"touch '{tmp_path / 'ran'}'", handle=handle)
    assert r.cancelled and r.pid is None and r.exit_code is None and not r.ok
    assert not (tmp_path / "ran").exists()


def test_background_child_holding_the_pipe_does_not_hang() -> None:
    lines: list[tuple[str, str]] = []
    r = sh("sleep 100 & echo $!", lines)
    assert r.exit_code == 0 and not r.timed_out
    assert r.wall_s < 3
    assert wait_until(lambda: gone(int(lines[0][1])))


def test_on_line_exception_kills_reaps_and_closes(tmp_path: Path) -> None:
    before, started, grandchild = open_fds(), [], []

    def on_line(stream: str, text: str) -> None:
        grandchild.append(int(text))
        raise KeyError("boom")

    with pytest.raises(KeyError):
        run_process(
            ["/bin/sh", "-c", "sleep 30 & echo $!; wait"],
            env=None,
            cwd=None,
            timeout=30,
            on_line=on_line,
            on_start=started.append,
        )
    with pytest.raises(ChildProcessError):  # already reaped: no zombie left behind
        os.waitpid(started[0], os.WNOHANG)
    assert wait_until(lambda: gone(grandchild[0]))
    assert open_fds() == before


def test_no_fd_leak_across_runs(tmp_path: Path) -> None:
    sh("true")  # warm up lazily opened fds (e.g. /dev/null) outside the count
    before = open_fds()
    sh("echo hi; echo err >&2; exit 2", [])
    sh("sleep 30", timeout=0.1)
    sh("sleep 100 & echo hi")
    run(["nosuchcmd-xyz"])
    sh("true", cwd=str(tmp_path / "nope"))
    assert open_fds() == before


def test_works_without_pidfd(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pidfd(pid: int, flags: int = 0) -> int:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(os, "pidfd_open", no_pidfd)
    out: list[tuple[str, str]] = []
    assert sh("echo hi; exit 4", out).exit_code == 4 and out == [("stdout", "hi")]
    # Exit is noticed even while a background child keeps the pipes open.
    r = sh("sleep 100 & echo $!", lines := [])
    assert r.exit_code == 0 and r.wall_s < 3
    assert wait_until(lambda: gone(int(lines[0][1])))
    r = sh("sleep 30", timeout=0.2)
    assert r.timed_out and r.signal == signal.SIGTERM and r.wall_s < 3


# --- resource usage ----------------------------------------------------------------


def own_peak() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def test_peak_memory_of_a_child_bigger_than_us_is_exact() -> None:
    size = own_peak() + 100 * 1024 * 1024
    r = run([PY, "-c", f"b = b'x' * {size}; print(len(b))"])
    assert r.exit_code == 0 and size <= r.peak_rss_bytes < size + 60 * 1024 * 1024


def test_peak_memory_of_a_lasting_child_is_sampled() -> None:
    r = run([PY, "-c", "import time; b = b'x' * (100 * 1024 * 1024); time.sleep(0.5)"])
    assert r.exit_code == 0 and r.peak_rss_bytes >= 100 * 1024 * 1024


def test_peak_memory_never_reports_our_own_size_for_a_small_child() -> None:
    # The kernel carries our memory's high-water mark into a child's ru_maxrss; it must not show.
    big = b"y" * (200 * 1024 * 1024)
    r = run(["true"])
    assert r.exit_code == 0 and r.peak_rss_bytes < 50 * 1024 * 1024
    del big


def test_cpu_time_of_a_busy_child() -> None:
    r = run([PY, "-c", BUSY.format(s=0.3)])
    assert r.exit_code == 0 and r.cpu_s >= 0.29
    assert r.cpu_s == pytest.approx(r.cpu_user_s + r.cpu_sys_s)


def test_cpu_time_includes_a_waited_for_grandchild() -> None:
    # The child itself only starts Python; the 0.3 s are burnt by its child.
    code = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {BUSY.format(s=0.3)!r}])"
    r = run([PY, "-c", code])
    assert r.exit_code == 0 and r.cpu_s >= 0.29


def test_usage_of_a_running_busy_child() -> None:
    handle, samples = ProcessHandle(), []

    def sampler() -> None:
        def sample() -> bool:
            samples.append(handle.usage())
            return samples[-1][0] > 0.1

        try:
            wait_until(sample)
        finally:  # fails the test (no sample over 0.1 s) without leaving the busy child running
            handle.cancel(grace=1)

    r = run(
        [PY, "-c", "while True: pass"],
        handle=handle,
        on_start=lambda pid: threading.Thread(target=sampler).start(),
    )
    cpu, rss = samples[-1]
    assert r.cancelled and cpu > 0.1 and rss > 1024 * 1024
    assert r.peak_rss_bytes >= rss
    assert handle.usage() == (0.0, 0)


def test_usage_is_zero_before_start() -> None:
    assert ProcessHandle().usage() == (0.0, 0)


def test_peak_includes_tree_sum_seen_by_usage() -> None:
    # Two live children of 60 MB each: ru_maxrss of the (never reaped) children is lost, so
    # only the tree sum sampled by usage() can account for them.
    handle, samples = ProcessHandle(), []
    child = "import time; b = b'x' * (60 << 20); print('up', flush=True); time.sleep(60)"
    code = (
        "import subprocess, sys, time\n"
        f"ps = [subprocess.Popen([sys.executable, '-c', {child!r}],"
        " stdout=subprocess.PIPE, text=True) for _ in range(2)]\n"
        "[p.stdout.readline() for p in ps]\nprint('ready', flush=True)\ntime.sleep(60)\n"
    )

    def on_line(stream: str, text: str) -> None:
        if text == "ready":
            samples.append(handle.usage())
            handle.cancel(grace=1)

    r = run_process([PY, "-c", code], env=None, cwd=None, timeout=30, on_line=on_line, handle=handle)
    assert r.cancelled and samples and samples[0][1] >= 120 << 20
    assert r.peak_rss_bytes >= samples[0][1]


def test_module_has_no_django_import() -> None:
    assert "django" not in process.__dict__ and "django" not in Path(process.__file__).read_text()
