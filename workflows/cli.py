"""Shared pieces of the command-line tools: loading a workflow file and following a run."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from django.core.management.base import CommandError

from .engine.loader import detect_format
from .engine.spec import WorkflowInvalid, WorkflowSpec, parse_workflow
from .models import LogLine, Run, TaskRun

SYMBOLS = {
    "success": "✓", "failed": "✗", "skipped": "↷", "upstream_failed": "⊘", "cancelled": "■",
    "running": "▶", "retrying": "↻", "pending": "·",
}  # fmt: skip


def read_workflow_file(path: str) -> tuple[str, str, WorkflowSpec]:
    """(source, format, spec); a missing or invalid file is a CommandError with one clear line."""
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"{path}: no such file")
    try:
        source = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: cannot read: {exc}") from None
    fmt = detect_format(source, file.name)
    try:
        spec = parse_workflow(source, file.name)
    except WorkflowInvalid as exc:
        more = f" (and {len(exc.errors) - 1} more; see validate_workflow)" if len(exc.errors) > 1 else ""
        raise CommandError(f"{path}: {exc.errors[0]}{more}") from None
    return source, fmt, spec


def parse_params(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"--param {pair!r}: expected KEY=VALUE")
        params[key.strip()] = value
    return params


def follow(run_id: int, out: IO[str], *, done: threading.Event | None = None, poll: float = 0.2) -> Run:
    """Print task state changes and log lines as they are stored, until the run ends.

    Reads the database, so it works wherever the run executes (this process, the server, or
    a worker on another host).
    """
    statuses: dict[int, tuple[str, int]] = {}
    last_line = 0
    color = out.isatty() and not os.environ.get("NO_COLOR")
    while True:
        run = Run.objects.get(pk=run_id)
        final = run.is_final
        items: list[tuple[float, int, str]] = []
        for task in TaskRun.objects.filter(run_id=run_id):
            # With the attempt count, so a second retry shows even if no poll saw it running.
            if statuses.get(task.pk) != (task.status, task.attempts):
                statuses[task.pk] = (task.status, task.attempts)
                if task.status != "pending":
                    items.append((_changed_at(task), 1, _state_line(task)))
        lines = list(
            LogLine.objects.filter(run_id=run_id, pk__gt=last_line).select_related("taskrun").order_by("pk")[:5000]
        )
        for line in lines:
            last_line = line.pk
            prefix = _dim(f"{line.taskrun.node_id} |", color)
            items.append((line.ts, 0, f"{prefix} {line.text}"))
        # Lines before the state change they led to, in the order they happened.
        for _ts, _order, text in sorted(items, key=lambda item: (item[0], item[1])):
            out.write(text + "\n")
        out.flush()
        if final and len(lines) < 5000:
            return run
        if done is not None:
            done.wait(poll)
        else:
            time.sleep(poll)


def _changed_at(task: TaskRun) -> float:
    """When the task reached its status, so the line sorts among the log lines around it."""
    if task.is_final and task.finished_at:
        return task.finished_at.timestamp()
    if task.status == "running" and task.attempts <= 1 and task.started_at:
        return task.started_at.timestamp()
    return time.time()  # a retry: started_at is the first attempt's, long before


def _state_line(task: TaskRun) -> str:
    symbol = SYMBOLS.get(task.status, "?")
    extra = f" ({task.reason})" if task.reason and task.status != "running" else ""  # stale once it runs
    timing = f" in {task.wall_s:.2f}s" if task.wall_s and task.status in ("success", "failed") else ""
    attempt = f" attempt {task.attempts}" if task.status == "running" and task.attempts > 1 else ""
    return f"{symbol} {task.node_id} {task.status}{attempt}{timing}{extra}"


def _dim(text: str, color: bool) -> str:
    return f"\033[2m{text}\033[0m" if color else text


def describe(run: Run) -> str:
    summary = f"run #{run.number} of {run.workflow.name}: {run.status}"
    return f"{summary} — {run.message}" if run.message else summary


def exit_code(run: Run) -> int:
    return {"success": 0, "failed": 1, "cancelled": 2}.get(run.status, 1)


def fail(message: str) -> None:
    sys.stderr.write(f"error: {message}\n")
    sys.exit(1)


def human_bytes(n: int | None) -> str:
    if not n:
        return "0 B"
    value: Any = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1024
    return f"{value:.1f} GiB"
