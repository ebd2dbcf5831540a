"""Pinned packages from requirements files, pyproject.toml, poetry.lock, or an interpreter's environment."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

MANIFEST_NAMES = ("requirements.txt", "pyproject.toml", "poetry.lock")


class ManifestError(ValueError):
    pass


@dataclass(frozen=True)
class Pin:
    name: str  # as written
    version: str | None  # None when not pinned to one version
    manifest: str  # where it was read (relative to the scan root, or "python:/path" for an environment)
    line: int = 0
    spec: str = ""  # the requirement as written, for unpinned ones

    @property
    def key(self) -> str:
        return canonicalize_name(self.name)


def _exact(requirement: Requirement) -> str | None:
    specs = list(requirement.specifier)
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        return specs[0].version
    return None


def parse_requirements(path: Path, label: str, seen: set[Path] | None = None) -> tuple[list[Pin], list[str]]:
    """A pip requirements file (also a `pip freeze`): pins, plus warnings for what can't be checked."""
    seen = seen if seen is not None else set()
    path = path.resolve()
    if path in seen:
        return [], []
    seen.add(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ManifestError(f"cannot read {label}: {exc.strerror}") from None
    pins: list[Pin] = []
    warnings: list[str] = []
    logical: list[tuple[int, str]] = []
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not buffer:
            start = number
        if raw.rstrip().endswith("\\"):
            buffer += raw.rstrip()[:-1] + " "
            continue
        logical.append((start, buffer + raw))
        buffer = ""
    for number, line in logical:
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if not line:
            continue
        if line.startswith(("-r ", "--requirement ", "-c ", "--constraint ")):
            include = line.split(None, 1)[1].strip()
            nested = path.parent / include
            more, notes = parse_requirements(nested, str(Path(label).parent / include), seen)
            pins += more
            warnings += notes
            continue
        if line.startswith("-"):
            continue  # --hash, --index-url, -e ...: options, not packages
        line = re.sub(r"\s--hash[= ]\S+", "", line)
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            warnings.append(f"{label}: line {number}: not a requirement pip understands: {line[:80]}")
            continue
        if requirement.url:
            warnings.append(f"{label}: line {number}: {requirement.name} comes from a URL; not checked")
            continue
        version = _exact(requirement)
        if version is None:
            warnings.append(f"{label}: line {number}: {requirement.name} is not pinned (==); not checked")
        pins.append(Pin(requirement.name, version, label, number, str(requirement.specifier)))
    return pins, warnings


def _line_of(text: str, name: str) -> int:
    pattern = re.compile(rf"(^|[\s\"'\[]){re.escape(name)}($|[\s\"'=<>~!\[;,])", re.IGNORECASE)
    for number, line in enumerate(text.splitlines(), 1):
        if pattern.search(line):
            return number
    return 0


def parse_pyproject(path: Path, label: str) -> tuple[list[Pin], list[str]]:
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{label} is not valid TOML: {exc}") from None
    project = data.get("project", {})
    entries = list(project.get("dependencies", []))
    for group in project.get("optional-dependencies", {}).values():
        entries += group
    pins: list[Pin] = []
    warnings: list[str] = []
    for entry in entries:
        try:
            requirement = Requirement(entry)
        except InvalidRequirement:
            warnings.append(f"{label}: not a requirement: {entry}")
            continue
        version = _exact(requirement)
        if version is None:
            warnings.append(f"{label}: {requirement.name} is not pinned (==); not checked")
        pins.append(Pin(requirement.name, version, label, _line_of(text, requirement.name), str(requirement.specifier)))
    poetry = data.get("tool", {}).get("poetry", {})
    for section in ("dependencies", "dev-dependencies"):
        for name, spec in poetry.get(section, {}).items():
            if name.lower() == "python":
                continue
            value = spec.get("version") if isinstance(spec, dict) else spec
            exact = value.lstrip("=") if isinstance(value, str) and re.fullmatch(r"=?=?\d[\w.+!-]*", value) else None
            if exact is None:
                warnings.append(f"{label}: {name} is not pinned to one version; not checked")
            pins.append(Pin(name, exact, label, _line_of(text, name), str(value)))
    return pins, warnings


def parse_poetry_lock(path: Path, label: str) -> tuple[list[Pin], list[str]]:
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{label} is not valid TOML: {exc}") from None
    pins = []
    for package in data.get("package", []):
        name = package.get("name")
        if name:
            pins.append(Pin(name, package.get("version"), label, _line_of(text, f'name = "{name}"') or 0))
    return pins, []


def read_manifest(path: Path, label: str | None = None) -> tuple[list[Pin], list[str]]:
    label = label or path.name
    if not path.is_file():
        raise ManifestError(f"{label}: no such file")
    if path.name == "pyproject.toml":
        return parse_pyproject(path, label)
    if path.name == "poetry.lock":
        return parse_poetry_lock(path, label)
    return parse_requirements(path, label)


ENV_SCRIPT = (
    "import importlib.metadata as m, json, sys; "
    "print(json.dumps({'python': sys.version.split()[0], 'packages': sorted({(d.metadata['Name'], d.version) "
    "for d in m.distributions() if d.metadata['Name']})}))"
)


def environment_pins(python: str) -> tuple[list[Pin], str]:
    """What is installed in an interpreter's environment (what `pip freeze --all` would print)."""
    try:
        # From "/" and without PYTHON* variables: `-c` puts the working directory on sys.path, and
        # a project's *.egg-info there (or a PYTHONPATH) would be listed as installed.
        done = subprocess.run([python, "-E", "-c", ENV_SCRIPT], capture_output=True, text=True, timeout=120,
                              check=False, cwd="/")  # fmt: skip
    except OSError as exc:
        raise ManifestError(f"cannot run {python}: {exc.strerror}") from None
    except subprocess.TimeoutExpired:
        raise ManifestError(f"{python} did not answer within 120s") from None
    if done.returncode != 0:
        raise ManifestError(f"{python} failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}")
    data = json.loads(done.stdout)
    label = f"python:{python}"
    return [Pin(name, version, label) for name, version in data["packages"]], data["python"]
