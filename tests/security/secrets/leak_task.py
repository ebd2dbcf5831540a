"""The task the leak tests run (stdlib only; copied into the workflow's folder): it prints each
secret it was given in every form a script might leak it in, on stdout and stderr, and writes
it to its outputs. `python leak_task.py VAR [VAR ...]`.

Its forms are computed here, apart from both the masker and the tests' oracle, so that a form
the masker forgets shows up in the stored log and fails the test.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import json
import os
import re
import struct
import subprocess
import sys
import termios
import time
import urllib.parse


def wait_until_read(stream, limit: float = 10.0) -> None:
    """Until the runner has taken everything written to `stream`'s pipe (FIONREAD: bytes still in
    it), so the next write comes in a read of its own. Not a pipe: nothing to wait for."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            waiting = struct.unpack("i", fcntl.ioctl(stream.fileno(), termios.FIONREAD, b"\0" * 4))[0]
        except OSError:
            return
        if not waiting:
            return
        time.sleep(0.005)  # polling the condition, not a guess at how long it takes


def forms(value: str) -> list[tuple[str, str]]:
    data = value.encode()
    out = [
        ("raw", value),
        ("base64", base64.b64encode(data).decode()),
        ("base64 unpadded", base64.b64encode(data).decode().rstrip("=")),
        ("base64 url-safe", base64.urlsafe_b64encode(data).decode()),
        ("base64 of value+newline", base64.b64encode(data + b"\n").decode()),
        ("base64 of value+newline unpadded", base64.b64encode(data + b"\n").decode().rstrip("=")),
        ("url", urllib.parse.quote(value, safe="")),
        ("url plus", urllib.parse.quote_plus(value)),
        ("url lower", re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), urllib.parse.quote(value, safe=""))),
        ("json", json.dumps(value)[1:-1]),
        ("json unicode", json.dumps(value, ensure_ascii=False)[1:-1]),
        ("hex", binascii.hexlify(data).decode()),
        ("HEX", binascii.hexlify(data).decode().upper()),
    ]  # fmt: skip
    for offset in range(3):  # inside a longer base64 stream, at each alignment
        out.append((f"inside base64 +{offset}", base64.b64encode(b"z" * offset + data + b"tail").decode()))
    return out


def main(names: list[str]) -> None:
    outputs = []
    for name in names:
        value = os.environ[name]
        for label, text in forms(value):
            print(f"{name} {label}: {text}", flush=True)
        print(f"{name} on stderr: {value}", file=sys.stderr, flush=True)
        # What `echo $S | base64` prints (wrapped at 76 columns), from the real tools.
        subprocess.run(["/bin/sh", "-c", f'echo "${name}" | base64'], check=True)
        # One line, two writes: the runner reads the pipe in between.
        half = len(value) // 2
        sys.stdout.write(f"{name} split: {value[:half]}")
        sys.stdout.flush()
        wait_until_read(sys.stdout)
        sys.stdout.write(f"{value[half:]}\n")
        sys.stdout.flush()
        if "\n" in value:
            outputs.append(f"{name.lower()}<<END_OF_VALUE\n{value}\nEND_OF_VALUE")
        else:
            outputs.append(f"{name.lower()}={value}")
    with open(os.environ["RUNNER_OUTPUT"], "a", encoding="utf-8") as fh:
        fh.write("\n".join(outputs) + "\nplain=nothing secret here\n")


if __name__ == "__main__":
    main(sys.argv[1:])
