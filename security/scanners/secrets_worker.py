"""A detect-secrets worker process: scans the files it is given with the library's API.

Run as `python -m security.scanners.secrets_worker` with a JSON job on stdin
({"root", "files", "baseline"}); prints {"results": {path: [...]}, "errors": [...]}. Its own
process because detect-secrets keeps its settings in a global (one configuration per process)
and scanning is CPU-bound (processes use every core). Secret values never leave this process:
each result carries the value's SHA-1 (as detect-secrets' baselines do) and a masked form.
Secrets the baseline lists come back too, marked `"baselined": true`: they are not findings, but
the lines that hold them must still be masked wherever another tool shows or quotes them.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import ExitStack
from typing import Any

from detect_secrets.core import scan
from detect_secrets.settings import configure_settings_from_baseline, default_settings

from .masking import mask_in, mask_secret
from .secrets_lines import LineGate


def scan_files(root: str, files: list[str], baseline: dict[str, Any] | None) -> dict[str, Any]:
    os.chdir(root)  # detect-secrets reports paths as given; give them relative to the root
    known: set[tuple[str, str, str]] = set()
    results: dict[str, list[dict[str, Any]]] = {}
    errors: list[dict[str, str]] = []
    with ExitStack() as stack:
        if baseline is not None:
            configure_settings_from_baseline(baseline)
            for filename, secrets in (baseline.get("results") or {}).items():
                for secret in secrets:
                    known.add((filename, secret.get("type", ""), secret.get("hashed_secret", "")))
        else:
            stack.enter_context(default_settings())
        gate = LineGate() if LineGate.supported() else None
        for path in files:
            found: list[Any] = []
            try:
                found = list(gate.scan_file(path) if gate is not None else scan.scan_file(path))
            except Exception as exc:  # one unreadable file must not lose the others' results
                errors.append({"path": path, "message": f"detect-secrets could not scan it: {exc}"})
                continue
            by_line: dict[int, list[str]] = {}
            for secret in found:
                if secret.secret_value:
                    by_line.setdefault(secret.line_number, []).append(secret.secret_value)
            lines: list[str] | None = None
            entries = []
            unique = {}
            for secret in found:
                # The CLI keeps one entry per (file, type, secret): the first line it was seen on.
                key = (secret.type, secret.secret_hash)
                if key in unique:
                    continue
                unique[key] = secret
                if lines is None:
                    with open(path, encoding="utf-8", errors="replace") as fh:
                        lines = fh.read().splitlines()
                text = lines[secret.line_number - 1] if 0 < secret.line_number <= len(lines) else ""
                entries.append({
                    "type": secret.type, "filename": path, "hashed_secret": secret.secret_hash,
                    "is_verified": secret.is_verified, "line_number": secret.line_number,
                    "secret_masked": mask_secret(secret.secret_value or ""),
                    "line_masked": mask_in(text, by_line.get(secret.line_number, [])),
                    "baselined": (path, secret.type, secret.secret_hash) in known,
                })  # fmt: skip
            results[path] = entries
    return {"results": results, "errors": errors}


def main() -> None:
    job = json.load(sys.stdin)
    json.dump(scan_files(job["root"], job["files"], job.get("baseline")), sys.stdout)


if __name__ == "__main__":
    main()
