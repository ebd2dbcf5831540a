"""A task's output pipe cut into lines as it arrives: an endless line is passed on in pieces,
each cut at a UTF-8 character start (and, with a masker, never through a secret)."""

from __future__ import annotations

from collections.abc import Callable


def _cut_point(data: bytes, limit: int) -> int:
    # Back off to a UTF-8 character start so a split piece does not end in mojibake.
    cut = limit
    while cut > max(limit - 3, 1) and data[cut] & 0xC0 == 0x80:
        cut -= 1
    return cut if data[cut] & 0xC0 != 0x80 else limit


class LineSplitter:
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
