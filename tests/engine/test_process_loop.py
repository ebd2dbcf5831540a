"""workflows.engine.process.ProcessLoop: many processes from one thread, each with its own
lines, timeout, cancel and failure, none of them disturbing the others."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest

from workflows.engine.process import ProcessHandle, ProcessLoop


def run_all(loop: ProcessLoop, procs: list, limit: float = 30.0) -> list:
    """Wait until every proc has a result; the order in which they ended."""
    ended = [p for p in procs if p.result is not None]
    deadline = time.monotonic() + limit
    while len(ended) < len(procs):
        assert time.monotonic() < deadline, "the loop never finished its processes"
        ended += loop.wait(1.0)
    return ended


@pytest.fixture
def loop():
    loop = ProcessLoop()
    yield loop
    loop.close()


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_it_runs_several_at_once_each_with_its_own_lines_and_result(loop: ProcessLoop) -> None:
    lines: dict[str, list[str]] = {"a": [], "b": [], "c": []}
    # a waits for the file b creates: a can only end if both run at once.
    procs = []
    marker = f"/tmp/process-loop-{os.getpid()}-{time.monotonic_ns()}"
    env = {**os.environ, "B": marker}
    try:
        for name, code in (
            ("a", "import os,time\nwhile not os.path.exists(os.environ['B']): time.sleep(0.01)\nprint('a done')"),
            ("c", "print('c one'); print('c two')"),
            ("b", "import os,sys\nopen(os.environ['B'], 'w').close(); print('b err', file=sys.stderr); sys.exit(3)"),
        ):
            procs.append(
                loop.start(
                    py(code),
                    env=env,
                    cwd=None,
                    timeout=None,
                    on_line=lambda stream, line, name=name: lines[name].append(f"{stream}:{line}"),
                )  # fmt: skip
            )
        assert len(loop) == 3
        ended = run_all(loop, procs)
    finally:
        if os.path.exists(marker):
            os.unlink(marker)
    assert sorted(map(id, ended)) == sorted(map(id, procs))  # each ended once
    a, c, b = procs  # a ending at all shows they ran at once: run one by one, a would wait for ever
    assert (a.result.exit_code, b.result.exit_code, c.result.exit_code) == (0, 3, 0)
    assert lines == {"a": ["stdout:a done"], "b": ["stderr:b err"], "c": ["stdout:c one", "stdout:c two"]}
    assert len(loop) == 0


def until_file(path: str) -> list[str]:
    """A child that ends (0) once `path` exists: it outlives whatever the test waits for first."""
    return py(f"import os,time\nwhile not os.path.exists({path!r}): time.sleep(0.01)")


def wait_for_first(loop: ProcessLoop) -> list:
    ended: list = []
    deadline = time.monotonic() + 30
    while not ended:
        assert time.monotonic() < deadline, "nothing ended"
        ended = loop.wait(1.0)
    return ended


def test_one_timing_out_leaves_the_others_running(loop: ProcessLoop, tmp_path) -> None:
    slow = loop.start(py("import time; time.sleep(60)"), env=None, cwd=None, timeout=0.3, on_line=None, kill_grace=0.2)
    fine = loop.start(until_file(str(tmp_path / "go")), env=None, cwd=None, timeout=None, on_line=None)
    assert wait_for_first(loop) == [slow]
    (tmp_path / "go").touch()
    run_all(loop, [fine])
    assert slow.result.timed_out and not fine.result.timed_out
    assert fine.result.exit_code == 0 and fine.result.wall_s > 0.3


def test_cancelling_one_ends_only_that_one(loop: ProcessLoop, tmp_path) -> None:
    handle = ProcessHandle()
    victim = loop.start(py("import time; time.sleep(60)"), env=None, cwd=None, timeout=None, on_line=None,
                        handle=handle)  # fmt: skip
    other = loop.start(until_file(str(tmp_path / "go")), env=None, cwd=None, timeout=None, on_line=None)
    canceller = threading.Timer(0.2, handle.cancel, kwargs={"grace": 1.0})
    canceller.start()
    assert wait_for_first(loop) == [victim]
    canceller.join()
    (tmp_path / "go").touch()
    run_all(loop, [other])
    assert victim.result.cancelled and victim.result.signal == signal.SIGTERM
    assert not other.result.cancelled and other.result.exit_code == 0


def test_a_failing_callback_ends_only_its_own_process(loop: ProcessLoop, tmp_path) -> None:
    def explode(stream: str, line: str) -> None:
        raise RuntimeError("on_line broke")

    broken = loop.start(py("import time; print('x', flush=True); time.sleep(60)"), env=None, cwd=None, timeout=None,
                        on_line=explode)  # fmt: skip
    fine = loop.start(until_file(str(tmp_path / "go")), env=None, cwd=None, timeout=None, on_line=None)
    assert wait_for_first(loop) == [broken]
    (tmp_path / "go").touch()
    run_all(loop, [fine])
    assert isinstance(broken.failure, RuntimeError)
    assert "on_line broke" in broken.result.error
    with pytest.raises(ProcessLookupError):  # killed and reaped, not left behind
        os.kill(broken.result.pid, 0)
    assert fine.failure is None and fine.result.exit_code == 0


def test_wake_from_another_thread_ends_a_wait(loop: ProcessLoop) -> None:
    threading.Timer(0.1, loop.wake).start()
    began = time.monotonic()
    assert loop.wait(None) == []
    assert time.monotonic() - began < 10


def test_close_kills_and_reaps_what_still_runs() -> None:
    loop = ProcessLoop()
    proc = loop.start(py("import time; time.sleep(60)"), env=None, cwd=None, timeout=None, on_line=None)
    loop.close()
    assert proc.result is not None and proc.result.error
    with pytest.raises(ProcessLookupError):
        os.kill(proc.result.pid, 0)
    loop.wake()  # after close: a late cancel must not write to a closed (or reused) fd


def test_an_empty_pipe_at_eof_is_not_read_but_a_last_line_is(loop: ProcessLoop, monkeypatch) -> None:
    """A pipe whose writer is gone polls as POLLHUP alone when empty: that is its end, without a
    read (a system call, and a hand-off of the GIL, per pipe of every task). One with data left
    polls POLLIN|POLLHUP, and is read to the last byte."""
    from workflows.engine import process

    reads: list[int] = []
    real_read = os.read
    monkeypatch.setattr(process.os, "read", lambda fd, size: reads.append(fd) or real_read(fd, size))
    lines: list[tuple[str, str]] = []
    silent = loop.start(["/bin/true"], env=None, cwd=None, timeout=None, on_line=lambda *line: None)
    silent_pipes = set(silent.pipes)
    talker = loop.start(py("import sys; sys.stdout.write('last, no newline')"), env=None, cwd=None, timeout=None,
                        on_line=lambda stream, line: lines.append((stream, line)))  # fmt: skip
    talker_out = next(fd for fd, splitter in talker.pipes.items() if splitter.name == "stdout")
    run_all(loop, [silent, talker])

    assert silent.result.exit_code == 0 and talker.result.exit_code == 0
    assert not silent_pipes & set(reads)
    assert lines == [("stdout", "last, no newline")]
    assert talker_out in reads
