"""A secret split across two reads of the pipe is still masked: masking sees whole lines (run_process)."""

from __future__ import annotations

import os
import sys
import threading

from security.providers.masking import Masker
from workflows.engine import process
from workflows.engine.process import run_process

SECRET = "split-across-reads-s3cr3t"
CHILD = """
import os, sys
half = len(sys.argv[2]) // 2
sys.stdout.write("token=" + sys.argv[2][:half])
sys.stdout.flush()
with open(sys.argv[1]) as gate:  # blocks until the test has seen the first half arrive
    gate.read()
sys.stdout.write(sys.argv[2][half:] + " done\\n")
sys.stdout.flush()
"""


class ReadSpy:
    """os for the process module, except that read() reports each chunk; when the first half
    of the line has been read on its own, it opens the gate the child waits on."""

    def __init__(self, gate: str, first_half: bytes):
        self.gate, self.first_half = gate, first_half
        self.chunks: list[bytes] = []
        self.opened = threading.Event()

    def __getattr__(self, name: str):
        return getattr(os, name)

    def read(self, fd: int, n: int) -> bytes:
        chunk = os.read(fd, n)
        self.chunks.append(chunk)
        if chunk.endswith(self.first_half) and not self.opened.is_set():
            self.opened.set()
            with open(self.gate, "w") as gate:
                gate.write("go")
        return chunk


def test_a_secret_written_in_two_halves_is_masked_in_the_stored_line(tmp_path, monkeypatch):
    gate = str(tmp_path / "gate")
    os.mkfifo(gate)
    spy = ReadSpy(gate, SECRET[: len(SECRET) // 2].encode())
    monkeypatch.setattr(process, "os", spy)
    masker = Masker([SECRET])
    lines: list[tuple[str, str]] = []

    result = run_process([sys.executable, "-c", CHILD, gate, SECRET], env=None, cwd=None, timeout=30,
                         on_line=lambda stream, line: lines.append((stream, masker(line))))  # fmt: skip

    assert result.exit_code == 0
    assert spy.opened.is_set(), "the first half never arrived on its own"
    assert not any(SECRET.encode() in chunk for chunk in spy.chunks)  # it really was split
    assert lines == [("stdout", "token=*** done")]
