"""The forms a secret value takes in logs, each of which masking replaces: the value itself; each line
of a multi-line value; base64 (standard and URL-safe, with and without padding) of the value and of
the value with a trailing newline, as `echo $S | base64` makes it, also wrapped at 76 columns, and,
for values of 8 bytes or more, the part of the encoding that the value alone decides at each of the 3
alignments inside a longer base64 stream; URL-encoded (`%XX` in either case, space as `%20` or `+`);
JSON-escaped (`\\uXXXX` or not, `\\/` or not); hex in lower and upper case.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse

MIN_SECRET_LENGTH = 4
# A value this long or longer is also masked inside a longer base64 stream (any alignment):
# below it, the aligned-inside part is so short that it would match unrelated base64.
INNER_BASE64_MIN_BYTES = 8
# Lines of wrapped encodings shorter than this are left alone (the last line may be "Cg==").
MIN_WRAPPED_LINE = 8
BASE64_WRAP = 76
_LOWER_PERCENT = re.compile(r"%[0-9A-F]{2}")
_UPPER_UNICODE = re.compile(r"\\u[0-9a-f]{4}")


def too_short(value: str, min_length: int = MIN_SECRET_LENGTH) -> bool:
    return len(value.strip()) < min_length


def _base64_forms(payload: bytes) -> set[str]:
    forms: set[str] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        text = encode(payload).decode("ascii")
        forms |= {text, text.rstrip("=")}
        if len(text) > BASE64_WRAP:  # `base64` wraps its output at 76 columns
            forms |= {
                p for i in range(0, len(text), BASE64_WRAP) if len(p := text[i : i + BASE64_WRAP]) >= MIN_WRAPPED_LINE
            }
    return forms


def _inner_base64_forms(data: bytes) -> set[str]:
    """The characters of a base64 stream that only `data`'s bits decide, when `data` starts at
    byte offset k (mod 3) of the stream: character i covers bits [6i, 6i + 6)."""
    forms: set[str] = set()
    for k in range(3):
        start = -(-8 * k // 6)  # ceil
        end = 8 * (k + len(data)) // 6
        text = base64.b64encode(b"\0" * k + data + b"\0\0").decode("ascii")[start:end]
        forms |= {text, text.translate(str.maketrans("+/", "-_"))}
    return forms


def _url_forms(value: str) -> set[str]:
    forms: set[str] = set()
    for safe in ("", "/", "-_.!~*'()"):
        quoted = urllib.parse.quote(value, safe=safe)
        for text in (quoted, quoted.replace("%20", "+")):
            forms |= {text, _LOWER_PERCENT.sub(lambda m: m.group().lower(), text)}
    return forms


def _json_forms(value: str) -> set[str]:
    forms: set[str] = set()
    for ascii_only in (True, False):
        text = json.dumps(value, ensure_ascii=ascii_only)[1:-1]
        for variant in (text, text.replace("/", "\\/")):
            forms |= {variant, _UPPER_UNICODE.sub(lambda m: "\\u" + m.group()[2:].upper(), variant)}
    return forms


def secret_forms(value: str, min_length: int = MIN_SECRET_LENGTH) -> set[str]:
    """Every form of `value` that masking replaces (empty if the value is too short to mask).
    No form contains a newline: a log line never does."""
    if too_short(value, min_length):
        return set()
    forms: set[str] = set()
    lines = value.split("\n")
    if len(lines) == 1:
        forms.add(value)
    else:
        for line in lines:
            line = line.rstrip("\r")
            forms |= {text for text in (line, line.strip()) if not too_short(text, min_length)}
    data = value.encode("utf-8", "surrogatepass")
    for payload in (data, data + b"\n"):
        forms |= _base64_forms(payload)
    if len(data) >= INNER_BASE64_MIN_BYTES:
        forms |= _inner_base64_forms(data)
    forms |= {data.hex(), data.hex().upper()}
    forms |= _url_forms(value)
    forms |= _json_forms(value)
    return {form for form in forms if "\n" not in form and len(form) >= min_length}
