"""Parse and validate a workflow file into a `WorkflowSpec`.

Every error names the line and the dotted field it is about; all errors are collected, not
just the first, so a user can fix a file in one pass.
"""

from __future__ import annotations

import re
from typing import Any

# The reference syntax is the secret providers' (plain Python too): one parser for both.
from security.providers.references import InvalidReference, parse_reference

from . import conditions
from .checker import Checker, SpecError, type_name
from .cron import Cron, CronError
from .definition import Matrix, Param, Retry, TaskSpec, WorkflowSpec
from .graph_checks import check_graph
from .loader import LineDict, LineList, LoadError, load
from .sections import TASK_COST_FIELDS, check_budget, check_cost, check_cost_body, check_gates, check_tracing

TASK_ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
RESERVED_IDS = {"tasks", "params", "matrix", "run", "env", "needs", "true", "false", "null"}
MAX_LEGS_LIMIT = 1024


class WorkflowInvalid(ValueError):
    def __init__(self, errors: list[SpecError]):
        self.errors = sorted(errors, key=lambda e: (e.line or 0, e.field))
        super().__init__("\n".join(str(e) for e in self.errors))


# --------------------------------------------------------------------------- fields

TOP_FIELDS = {
    "name", "description", "max_parallel", "max_legs", "timeout", "tags", "params", "env",
    "working_directory", "schedule", "cost", "gates", "tracing", "budget", "tasks", "version",
}  # fmt: skip
TASK_FIELDS = {
    "run", "script", "args", "needs", "env", "working_directory", "cwd", "timeout", "retry",
    "skip_if", "run_always", "continue_on_error", "matrix", "secrets", "priority",
    "description", "cost",
}  # fmt: skip
SEED_TASK_FIELDS = TASK_FIELDS | {"id", "depends_on", "metadata"}
SEED_METADATA_FIELDS = {"timeout", "priority", "retry_policy", "description", "tags"}
RETRY_FIELDS = {
    "max_attempts", "initial_delay", "backoff", "max_delay", "jitter", "retry_on_exit_codes",
    "backoff_multiplier",
}  # fmt: skip
PARAM_FIELDS = {"default", "description", "required", "choices"}


def parse_workflow(text: str, filename: str | None = None) -> WorkflowSpec:
    """Parse and validate; raises WorkflowInvalid with every error found."""
    try:
        data = load(text, filename)
    except LoadError as exc:
        raise WorkflowInvalid([SpecError(exc.line, "", exc.message)]) from None
    from .loader import detect_format

    check = Checker()
    spec = _build(data, check, detect_format(text, filename))
    if spec is not None and not check.errors:
        check_graph(spec, check)
    if check.errors or spec is None:
        raise WorkflowInvalid(check.errors)
    return spec


def _build(data: Any, check: Checker, fmt: str) -> WorkflowSpec | None:
    if data is None:
        check.error(1, "", "the file is empty")
        return None
    top = check.mapping(data, 1, "")
    if top is None:
        check.errors[-1] = SpecError(1, "", "the top level must be a mapping with 'name' and 'tasks'")
        return None
    check.unknown_fields(top, TOP_FIELDS, "")
    name = check.string(top, "name", "")
    if not name:
        check.error(top.line_of("name") if "name" in top else 1, "name", "is required")
    spec = WorkflowSpec(name=name or "", tasks={}, format=fmt)
    spec.description = check.string(top, "description", "", "")
    spec.max_parallel = check.number(top, "max_parallel", "", 4, integer=True, minimum=1, maximum=1024)
    spec.max_legs = check.number(top, "max_legs", "", 256, integer=True, minimum=1, maximum=MAX_LEGS_LIMIT)
    spec.timeout = check.number(top, "timeout", "", None, minimum=0.001)
    spec.tags = check.string_map(top, "tags", "")
    spec.env = check.string_map(top, "env", "")
    spec.working_directory = check.string(top, "working_directory", "")
    spec.schedule = check.string(top, "schedule", "")
    if spec.schedule:
        try:
            Cron(spec.schedule)
        except CronError as exc:
            check.error(top.line_of("schedule"), "schedule", f"bad cron expression: {exc}")
    spec.params = _params(top, check)
    for section in ("cost", "gates", "tracing", "budget"):
        if top.get(section) is not None:
            value = check.mapping(top[section], top.line_of(section), section)
            setattr(spec, section, dict(value) if value is not None else {})
    check_gates(spec.gates, top, check)
    check_cost(top, check)
    check_budget(top, check)
    check_tracing(top, check)
    if "tasks" not in top or top["tasks"] is None:
        check.error(top.line_of("tasks") if "tasks" in top else 1, "tasks", "is required")
        return spec
    tasks = top["tasks"]
    if isinstance(tasks, list):
        spec.tasks = _seed_tasks(tasks, top.line_of("tasks"), check)
    elif isinstance(tasks, dict):
        spec.tasks = _mapping_tasks(tasks, top.line_of("tasks"), check)
    else:
        check.error(top.line_of("tasks"), "tasks", f"must be a mapping of task ids or a list, not {type_name(tasks)}")
    if not spec.tasks and not check.errors:
        check.error(top.line_of("tasks"), "tasks", "must define at least one task")
    return spec


def _params(top: LineDict, check: Checker) -> dict[str, Param]:
    if top.get("params") is None:
        return {}
    raw = check.mapping(top["params"], top.line_of("params"), "params")
    result: dict[str, Param] = {}
    for name, value in (raw or {}).items():
        path = f"params.{name}"
        line = raw.line_of(name)
        if not isinstance(name, str) or not TASK_ID_RE.match(name):
            check.error(line, path, "a parameter name must be a word (letters, digits, _ and -)")
            continue
        if isinstance(value, dict):
            body = check.mapping(value, line, path)
            check.unknown_fields(body, PARAM_FIELDS, path)
            choices = body.get("choices")
            if choices is not None and not isinstance(choices, list):
                check.error(body.line_of("choices"), f"{path}.choices", "must be a list")
                choices = None
            result[name] = Param(
                name,
                body.get("default"),
                check.string(body, "description", path, ""),
                check.boolean(body, "required", path),
                choices,
            )
        elif isinstance(value, list):
            check.error(line, path, "must be a default value or a mapping with 'default'")
        else:
            result[name] = Param(name, value)
    return result


def _mapping_tasks(tasks: dict, line: int, check: Checker) -> dict[str, TaskSpec]:
    result: dict[str, TaskSpec] = {}
    lines = tasks.line_of if isinstance(tasks, LineDict) else (lambda _k: line)
    for task_id, body in tasks.items():
        path = f"tasks.{task_id}"
        task_line = lines(task_id)
        if not _valid_id(task_id, task_line, path, check):
            continue
        if isinstance(body, str):
            body = LineDict(run=body)
            body.line, body.key_lines = task_line, {"run": task_line}
        data = check.mapping(body, task_line, path)
        if data is None:
            continue
        check.unknown_fields(data, TASK_FIELDS, path)
        task = _task(task_id, data, task_line, path, check)
        if task is not None:
            result[task_id] = task
    return result


def _seed_tasks(items: list, line: int, check: Checker) -> dict[str, TaskSpec]:
    """The seed's list form: [{id, script, depends_on, metadata: {timeout, retry_policy}}]."""
    result: dict[str, TaskSpec] = {}
    first_line: dict[str, int] = {}
    for index, raw in enumerate(items):
        item_line = items.line_of(index) if isinstance(items, LineList) else line
        path = f"tasks[{index}]"
        data = check.mapping(raw, item_line, path)
        if data is None:
            continue
        check.unknown_fields(data, SEED_TASK_FIELDS, path)
        task_id = data.get("id")
        if task_id is None:
            check.error(data.line, f"{path}.id", "is required")
            continue
        if not _valid_id(task_id, data.line_of("id"), f"{path}.id", check):
            continue
        if task_id in result:
            check.error(
                data.line_of("id"),
                f"{path}.id",
                f"duplicate task id '{task_id}' (first defined at line {first_line[task_id]})",
            )
            continue
        merged = _seed_to_mapping(data, path, check)
        task = _task(task_id, merged, data.line, path, check)
        if task is not None:
            result[task_id] = task
            first_line[task_id] = data.line
    return result


def _seed_to_mapping(data: LineDict, path: str, check: Checker) -> LineDict:
    merged = LineDict({k: v for k, v in data.items() if k not in ("id", "depends_on", "metadata")})
    merged.line, merged.key_lines = data.line, dict(data.key_lines)
    if "depends_on" in data:
        if "needs" in data:
            check.error(data.line_of("depends_on"), f"{path}.depends_on", "give either needs or depends_on")
        merged["needs"] = data["depends_on"]
        merged.key_lines["needs"] = data.line_of("depends_on")
    meta = data.get("metadata")
    if meta is not None:
        meta = check.mapping(meta, data.line_of("metadata"), f"{path}.metadata")
    if meta:
        check.unknown_fields(meta, SEED_METADATA_FIELDS, f"{path}.metadata")
        for key in ("timeout", "priority", "description"):
            if key in meta:
                merged[key] = meta[key]
                merged.key_lines[key] = meta.line_of(key)
        if "retry_policy" in meta:
            merged["retry"] = meta["retry_policy"]
            merged.key_lines["retry"] = meta.line_of("retry_policy")
    return merged


def _valid_id(task_id: Any, line: int, path: str, check: Checker) -> bool:
    if not isinstance(task_id, str) or not TASK_ID_RE.match(task_id):
        check.error(line, path, "a task id must start with a letter or _ and hold only letters, digits, _ and -")
        return False
    if task_id in RESERVED_IDS:
        check.error(line, path, f"'{task_id}' is a reserved word; choose another task id")
        return False
    return True


def _task(task_id: str, data: LineDict, line: int, path: str, check: Checker) -> TaskSpec | None:
    run = _command(data, path, check)
    if run is None:
        return None
    task = TaskSpec(id=task_id, run=run, line=line, lines=dict(getattr(data, "key_lines", {})))
    task.needs = check.string_list(data, "needs", path)
    task.env = check.string_map(data, "env", path)
    if "cwd" in data and "working_directory" in data:
        check.error(data.line_of("cwd"), f"{path}.cwd", "give either cwd or working_directory")
    task.working_directory = check.string(data, "working_directory", path) or check.string(data, "cwd", path)
    task.timeout = check.number(data, "timeout", path, None, minimum=0.001)
    task.priority = check.number(data, "priority", path, 0, integer=True)
    task.description = check.string(data, "description", path, "")
    task.run_always = check.boolean(data, "run_always", path)
    task.continue_on_error = check.boolean(data, "continue_on_error", path)
    task.skip_if = check.string(data, "skip_if", path)
    if task.skip_if is not None:
        if isinstance(data["skip_if"], bool):
            task.skip_if = "true" if data["skip_if"] else "false"
        check.expression(task.skip_if, data.line_of("skip_if"), f"{path}.skip_if")
    if "retry" in data and data["retry"] is not None:
        task.retry = _retry(data["retry"], data.line_of("retry"), f"{path}.retry", check)
    if "matrix" in data and data["matrix"] is not None:
        task.matrix = _matrix(data["matrix"], data.line_of("matrix"), f"{path}.matrix", check)
    task.secrets = check.string_map(data, "secrets", path)
    secrets = data.get("secrets")
    for env_name, ref in task.secrets.items():
        line = secrets.line_of(env_name) if isinstance(secrets, LineDict) else data.line_of("secrets")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", env_name):
            check.error(line, f"{path}.secrets.{env_name}", "must be an environment variable name (letters, digits, _)")
        try:
            parse_reference(ref)
        except InvalidReference as exc:
            check.error(
                line,
                f"{path}.secrets.{env_name}",
                f"{exc.reason}: a secret reference looks like provider-name:path#key@version",
            )
    if data.get("cost") is not None:
        cost = check.mapping(data["cost"], data.line_of("cost"), f"{path}.cost")
        task.cost = dict(cost or {})
        if cost:
            check_cost_body(cost, f"{path}.cost", check, TASK_COST_FIELDS)
    texts = [task.run] if isinstance(task.run, str) else list(task.run)
    for text in texts:
        check.templates(text, data.line_of("run") if "run" in data else data.line_of("script"), f"{path}.run")
    for name, value in task.env.items():
        check.templates(value, data.line_of("env"), f"{path}.env.{name}")
    return task


def _command(data: LineDict, path: str, check: Checker) -> str | list[str] | None:
    if "run" in data and "script" in data:
        check.error(data.line_of("script"), f"{path}.script", "give either run or script, not both")
        return None
    if "script" in data:
        script = data["script"]
        if not isinstance(script, str) or not script.strip():
            check.error(data.line_of("script"), f"{path}.script", "must be a non-empty string")
            return None
        args = check.string_list(data, "args", path)
        if script.endswith(".py"):
            return ["python", script, *args]
        if script.endswith(".sh"):
            return ["/bin/sh", script, *args]
        return [script, *args] if args or " " not in script.strip() else script
    if "args" in data:
        check.error(data.line_of("args"), f"{path}.args", "args go with script; put them in run")
    if "run" not in data:
        check.error(data.line, f"{path}.run", "is required (the command to run)")
        return None
    run = data["run"]
    if isinstance(run, str):
        if not run.strip():
            check.error(data.line_of("run"), f"{path}.run", "must not be empty")
            return None
        return run
    if isinstance(run, list) and run and all(isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in run):
        return [str(a) for a in run]
    hint = f' (quote it: run: "{str(run).lower()}")' if isinstance(run, (bool, int, float)) else ""
    check.error(data.line_of("run"), f"{path}.run", f"must be a command string or a non-empty list of arguments{hint}")
    return None


def _retry(raw: Any, line: int, path: str, check: Checker) -> Retry:
    retry = Retry()
    if isinstance(raw, int) and not isinstance(raw, bool):
        if raw < 1:
            check.error(line, path, "must be at least 1 (the number of attempts)")
            return retry
        retry.max_attempts = raw
        return retry
    data = check.mapping(raw, line, path)
    if data is None:
        return retry
    check.unknown_fields(data, RETRY_FIELDS, path)
    retry.max_attempts = check.number(data, "max_attempts", path, 1, integer=True, minimum=1, maximum=100)
    retry.initial_delay = check.number(data, "initial_delay", path, 1.0, minimum=0)
    if "backoff" in data and "backoff_multiplier" in data:
        check.error(
            data.line_of("backoff_multiplier"),
            f"{path}.backoff_multiplier",
            "give either backoff or backoff_multiplier",
        )
    key = "backoff_multiplier" if "backoff_multiplier" in data else "backoff"
    retry.backoff = check.number(data, key, path, 2.0, minimum=1)
    retry.max_delay = check.number(data, "max_delay", path, 60.0, minimum=0)
    retry.jitter = check.number(data, "jitter", path, 0.0, minimum=0, maximum=1)
    codes = data.get("retry_on_exit_codes")
    if codes is not None:
        if isinstance(codes, int) and not isinstance(codes, bool):
            codes = [codes]
        if not isinstance(codes, list) or not all(isinstance(c, int) and not isinstance(c, bool) for c in codes):
            check.error(
                data.line_of("retry_on_exit_codes"), f"{path}.retry_on_exit_codes", "must be a list of integers"
            )
        else:
            retry.retry_on_exit_codes = frozenset(codes)
    return retry


def _matrix(raw: Any, line: int, path: str, check: Checker) -> Matrix | None:
    data = check.mapping(raw, line, path)
    if data is None:
        return None
    matrix = Matrix(axes={})
    for key, value in data.items():
        where = f"{path}.{key}"
        key_line = data.line_of(key)
        if key in ("include", "exclude"):
            if not isinstance(value, list) or not all(isinstance(v, dict) and v for v in value):
                check.error(key_line, where, "must be a list of non-empty mappings")
                continue
            combos = [{str(k): v for k, v in combo.items()} for combo in value]
            for combo in combos:
                if any(isinstance(v, (dict, list)) for v in combo.values()):
                    check.error(key_line, where, "values must be plain values")
            setattr(matrix, key, combos)
        elif not isinstance(key, str) or not TASK_ID_RE.match(key):
            check.error(key_line, where, "a matrix axis name must be a word")
        elif not isinstance(value, list) or not value:
            check.error(key_line, where, "must be a non-empty list of values")
        elif any(isinstance(v, (dict, list)) for v in value):
            check.error(key_line, where, "values must be plain values (strings, numbers, booleans)")
        elif len(set(map(conditions.to_text, value))) != len(value):
            check.error(key_line, where, "values must be distinct")
        else:
            matrix.axes[key] = list(value)
    for combo in matrix.exclude:
        unknown = [k for k in combo if k not in matrix.axes]
        if unknown:
            check.error(data.line_of("exclude"), f"{path}.exclude", f"unknown axis '{unknown[0]}'")
    if not matrix.axes and not matrix.include:
        check.error(line, path, "needs at least one axis (a name with a list of values) or include")
    return matrix
