"""How a secret is shown when it must be shown at all: a few characters, the rest starred."""

from __future__ import annotations

import difflib


def mask_secret(value: str) -> str:
    """`AK************LE` for long values; short ones are starred completely."""
    if len(value) >= 16:
        return f"{value[:2]}{'*' * min(len(value) - 4, 12)}{value[-2:]}"
    return "*" * min(max(len(value), 4), 12)


def mask_in(text: str, secrets: list[str], *, stars_only: bool = False) -> str:
    for value in sorted(set(secrets), key=len, reverse=True):
        if value:
            text = text.replace(value, "*" * min(len(value), 12) if stars_only else mask_secret(value))
    return text


def hidden_values(original: str, masked: str) -> list[str]:
    """The parts of a line that its masked copy replaced: the secrets, recovered without storing them."""
    matcher = difflib.SequenceMatcher(None, original, masked, autojunk=False)
    return [original[a:b] for op, a, b, _c, _d in matcher.get_opcodes() if op in ("replace", "delete") and b - a >= 4]
