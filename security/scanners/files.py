"""Which files a scan reads: a tree's files (minus VCS and virtualenv folders), or the files a
workflow's tasks execute (the scripts named in their commands and the local modules they import)."""

from __future__ import annotations

import ast
import hashlib
import os
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

SKIP_DIRS = {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".nox",
             ".mypy_cache", ".pytest_cache", ".ruff_cache", ".eggs", "site-packages"}  # fmt: skip
MAX_FILE_BYTES = 5 * 1024 * 1024  # larger files are data, not code
SCRIPT_SUFFIXES = (".py", ".sh", ".bash", ".pl", ".rb", ".js", ".ps1")


@dataclass
class SourceFile:
    path: str  # relative, forward slashes
    data: bytes
    sha256: str
    _lines: list[str] | None = field(default=None, repr=False)

    @property
    def is_python(self) -> bool:
        return self.path.endswith(".py")

    @property
    def is_text(self) -> bool:
        return b"\0" not in self.data[:8192]

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.data.decode("utf-8", errors="replace").splitlines()
        return self._lines


def relative(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def walk(root: Path) -> list[str]:
    """Every regular file under root (sorted, relative), skipping VCS, caches and virtualenvs."""
    found = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        base = Path(directory)
        for name in files:
            full = base / name
            if full.is_file() and not full.is_symlink():
                found.append(relative(root, full))
    return sorted(found)


def read_files(root: Path, paths: Iterable[str]) -> dict[str, SourceFile]:
    result = {}
    for path in paths:
        full = root / path
        try:
            if full.stat().st_size > MAX_FILE_BYTES:
                continue
            data = full.read_bytes()
        except OSError:
            continue
        result[path] = SourceFile(path, data, hashlib.sha256(data).hexdigest())
    return result


def snippet(lines: list[str], line: int, context: int = 3) -> tuple[str, int]:
    """The flagged line with `context` lines either side, and the first line's number."""
    if not lines or line <= 0:
        return "", 0
    start = max(1, line - context)
    end = min(len(lines), line + context)
    return "\n".join(lines[start - 1 : end]), start


# ------------------------------------------------------------------ what a workflow's tasks execute


def command_files(command: str | list[str], cwd: Path) -> list[Path]:
    """Files a command names that exist under cwd: `python extract.py`, `./notify.sh`, `bash x.sh`."""
    if isinstance(command, str):
        try:
            words = shlex.split(command, comments=True)
        except ValueError:
            words = command.split()
    else:
        words = list(command)
    found = []
    for word in words:
        if "${{" in word or word.startswith("-") or "=" in word.split("/")[0]:
            continue
        candidate = (cwd / word).resolve() if not os.path.isabs(word) else Path(word)
        if candidate.is_file():
            found.append(candidate)
    return found


def local_imports(path: Path, search: list[Path]) -> list[Path]:
    """Modules a Python file imports that live in the given folders (the code it executes)."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError):
        return []
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = path.parent
            for _ in range(node.level - 1):
                base = base.parent
            module = base.joinpath(*node.module.split(".")) if node.module else base
            candidates = [module.with_suffix(".py"), module / "__init__.py"] if node.module else []
            for alias in node.names:
                candidates += [(module / alias.name).with_suffix(".py"), module / alias.name / "__init__.py"]
            names += [str(c) for c in candidates if c.is_file()]
    found = []
    for name in names:
        if os.path.isabs(name):
            found.append(Path(name))
            continue
        parts = name.split(".")
        for folder in search:
            module = folder.joinpath(*parts)
            for file in (module.with_suffix(".py"), module / "__init__.py"):
                if file.is_file():
                    found.append(file.resolve())
    return found


def executed_files(commands: Iterable[tuple[str | list[str], Path]], root: Path) -> list[str]:
    """Relative paths (under root) of the scripts the commands run and the local code they import."""
    root = root.resolve()
    pending: list[Path] = []
    for command, cwd in commands:
        pending += command_files(command, cwd)
    seen: set[Path] = set()
    while pending:
        path = pending.pop().resolve()
        if path in seen or not path.is_relative_to(root):
            continue
        seen.add(path)
        if path.suffix == ".py":
            pending += local_imports(path, [path.parent, root])
    return sorted(relative(root, p) for p in seen)
