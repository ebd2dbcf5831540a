"""The tests' own list of the forms a secret may leak in, written apart from the masker's, so
that a form the masker forgets fails a test instead of being forgotten in both places."""

from __future__ import annotations

import base64
import binascii
import json
import urllib.parse


def leak_forms(value: str) -> dict[str, str]:
    """name -> text, for every form the issue names (whole-value forms of a multi-line value
    are the ones without a newline; its lines are listed one by one)."""
    data = value.encode()
    forms = {
        "raw": value,
        "base64": base64.b64encode(data).decode(),
        "base64 unpadded": base64.b64encode(data).decode().rstrip("="),
        "base64 url-safe": base64.urlsafe_b64encode(data).decode(),
        "echo | base64": base64.b64encode(data + b"\n").decode(),
        "echo | base64 unpadded": base64.b64encode(data + b"\n").decode().rstrip("="),
        "url %XX": urllib.parse.quote(value, safe=""),
        "url +": urllib.parse.quote_plus(value),
        "url lower-case %xx": "".join(
            part if not part.startswith("%") else part.lower()
            for part in _percent_parts(urllib.parse.quote(value, safe=""))
        ),
        "json": json.dumps(value)[1:-1],
        "json unicode": json.dumps(value, ensure_ascii=False)[1:-1],
        "hex": binascii.hexlify(data).decode(),
        "HEX": binascii.hexlify(data).decode().upper(),
    }
    lines = value.split("\n")
    if len(lines) > 1:
        del forms["raw"]
        for number, line in enumerate(lines, 1):
            if len(line.strip()) >= 4:
                forms[f"line {number}"] = line
    # Lines of base64 that wraps at 76 columns, as `echo $S | base64` prints a long value.
    wrapped = base64.b64encode(data + b"\n").decode()
    if len(wrapped) > 76:
        for start in range(0, len(wrapped), 76):
            if len(wrapped[start : start + 76]) >= 8:
                forms[f"wrapped base64 line {start // 76 + 1}"] = wrapped[start : start + 76]
    return {name: text for name, text in forms.items() if "\n" not in text}


def _percent_parts(text: str) -> list[str]:
    parts, i = [], 0
    while i < len(text):
        if text[i] == "%":
            parts.append(text[i : i + 3])
            i += 3
        else:
            parts.append(text[i])
            i += 1
    return parts


def aligned_base64_core(value: str, offset: int) -> str:
    """The characters of base64(prefix + value + suffix) that only the value decides, for a
    prefix of `offset` bytes: what must not survive inside a longer base64 stream."""
    data = value.encode()
    first = -(-8 * offset // 6)
    last = 8 * (offset + len(data)) // 6
    return base64.b64encode(b"\xaa" * offset + data + b"\x55\x55").decode()[first:last]
