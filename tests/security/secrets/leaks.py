"""The leak matrix's shared parts: secret values made per test, every form of them (the tests'
own oracle), the workflow whose task prints them all, and a search through any text for them.

The search takes every text it is given as it is (never a repr, which would escape a JSON
form's backslash or a line's newline and hide the very thing looked for)."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from tests.security.providers.forms_oracle import aligned_base64_core, leak_forms

HERE = Path(__file__).resolve().parent
# Variables the leak task gets, and the Vault keys they are read from.
SINGLE, MULTI = "LEAK_ONE", "LEAK_PEM"


def make_values() -> dict[str, str]:
    """Fresh values (nothing to find by accident): one line with characters every encoding treats
    differently (space, / + = & % " < > and non-ASCII), and a multi-line PEM-like block."""
    token = secrets.token_urlsafe(18)
    body = [secrets.token_urlsafe(36) for _ in range(3)]
    return {
        SINGLE: f'Pw-{token} /+=&%"<>é-{secrets.token_hex(4)}',
        MULTI: "-----BEGIN TEST KEY-----\n" + "\n".join(body) + "\n-----END TEST KEY-----",
    }


def all_forms(values: Mapping[str, str]) -> dict[str, str]:
    """label -> text for every form of every value that must never be stored, sent or printed."""
    found: dict[str, str] = {}
    for name, value in values.items():
        for label, text in leak_forms(value).items():
            found[f"{name} {label}"] = text
        if len(value.encode()) >= 8:
            for offset in range(3):
                found[f"{name} inside base64 +{offset}"] = aligned_base64_core(value, offset)
    return found


def texts(obj: Any) -> Iterator[str]:
    """Every string inside a value (dicts' keys too), as it is."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        yield bytes(obj).decode("utf-8", "replace")
    elif isinstance(obj, Mapping):
        for key, value in obj.items():
            yield from texts(key)
            yield from texts(value)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for item in obj:
            yield from texts(item)
    elif obj is not None:
        yield str(obj)


def leaks(where: Iterable[tuple[str, Any]], forms: Mapping[str, str]) -> list[str]:
    """'<where>: <form label>' for every form found in any of the (label, value) pairs."""
    found = []
    for place, value in where:
        for text in texts(value):
            for label, form in forms.items():
                if form in text:
                    found.append(f"{place}: {label}")
    return sorted(set(found))


def database_rows() -> Iterator[tuple[str, Any]]:
    """Every row of every model of every installed app: a new table that stores a secret is
    searched without anyone adding it here."""
    from django.apps import apps

    for model in apps.get_models(include_auto_created=True):
        for row in model._base_manager.values():
            yield f"{model._meta.label} #{row.get('id', row.get('pk', '?'))}", row


def leak_workflow(folder: Path, name: str, provider: str, path: str, gate: str = "") -> str:
    """Put the leak task in `folder`; the workflow that runs it with both secrets, writes them to
    outputs, passes an output on, and fails a task whose error message is the secret itself.
    With `gate` (a command), the leak task waits for it to end first."""
    shutil.copy(HERE / "leak_task.py", folder / "leak_task.py")
    single, multi = f"{provider}:{path}#one", f"{provider}:{path}#pem"
    wait = f'  wait: {{run: "{gate}"}}\n' if gate else ""
    return f"""\
name: {name}
tasks:
{wait}  leak:
    run: python leak_task.py {SINGLE} {MULTI}
    secrets: {{{SINGLE}: "{single}", {MULTI}: "{multi}"}}
    needs: [{"wait" if gate else ""}]
  downstream:
    run: "echo got ${{{{ tasks.leak.outputs.leak_one }}}}"
    needs: [leak]
  crash:
    run: ["python", "-c", "import os, sys; sys.exit(os.environ['{SINGLE}'])"]
    secrets: {{{SINGLE}: "{single}"}}
    needs: [leak]
"""
