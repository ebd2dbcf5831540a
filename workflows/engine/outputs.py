"""Read the outputs a task wrote to `$RUNNER_OUTPUT`, in GitHub's `$GITHUB_OUTPUT` format.

`key=value` per line, or a multi-line value as `key<<DELIMITER`, lines, `DELIMITER`.
"""

from __future__ import annotations

import re

MAX_OUTPUT_BYTES = 1024 * 1024
KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def parse_outputs(text: str) -> tuple[dict[str, str], list[str]]:
    """Return (outputs, warnings); a malformed line is reported, not fatal."""
    outputs: dict[str, str] = {}
    warnings: list[str] = []
    if len(text.encode()) > MAX_OUTPUT_BYTES:
        warnings.append(f"outputs larger than {MAX_OUTPUT_BYTES} bytes were ignored")
        return outputs, warnings
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    index = 0
    while index < len(lines):
        line = lines[index].rstrip("\r")
        index += 1
        if not line.strip():
            continue
        heredoc = re.match(r"^([^=<]+)<<(.+)$", line)
        if heredoc and "=" not in heredoc.group(1):
            key, delimiter = heredoc.group(1).strip(), heredoc.group(2).strip()
            body: list[str] = []
            while index < len(lines) and lines[index].rstrip("\r") != delimiter:
                body.append(lines[index].rstrip("\r"))
                index += 1
            if index >= len(lines):
                warnings.append(f"output '{key}': delimiter '{delimiter}' never closed; value dropped")
                break
            index += 1
            _store(outputs, warnings, key, "\n".join(body))
        elif "=" in line:
            key, value = line.split("=", 1)
            _store(outputs, warnings, key.strip(), value)
        else:
            warnings.append(f"output line {index} is neither key=value nor key<<DELIMITER")
    return outputs, warnings


def _store(outputs: dict[str, str], warnings: list[str], key: str, value: str) -> None:
    if not KEY_RE.match(key):
        warnings.append(f"output name '{key}' is not a word; ignored")
        return
    outputs[key] = value
