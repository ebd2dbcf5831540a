"""The workflow file's optional top-level sections that the apps read: `gates` (security),
`cost` and `budget` (costs) and `tracing`. Checked here so that a bad value names its line."""

from __future__ import annotations

from typing import Any

from .checker import Checker
from .loader import LineDict

SEVERITIES = ("critical", "high", "medium", "low", "info")

# gates: {code: {block_on, new_only}, dependencies: {requirements, block_on, new_only},
#         secrets: {block, block_on, new_only, baseline}} (the security app runs them: security/gates.py)
GATE_FIELDS = {
    "code": {"block_on", "new_only"},
    "dependencies": {"requirements", "block_on", "new_only"},
    "secrets": {"block", "block_on", "new_only", "baseline"},
}


def check_gates(gates: dict[str, Any], top: LineDict, check: Checker) -> None:
    if not gates:
        return
    raw = top.get("gates")
    for kind, body in gates.items():
        path = f"gates.{kind}"
        line = raw.line_of(kind) if isinstance(raw, LineDict) else top.line_of("gates")
        if kind not in ("code", "dependencies", "secrets"):
            check.error(line, path, "unknown gate (expected code, dependencies or secrets)")
            continue
        body = check.mapping(body, line, path)
        if body is None:
            continue
        check.unknown_fields(body, GATE_FIELDS[kind], path)
        block_on = body.get("block_on")
        if block_on is not None and block_on not in SEVERITIES:
            check.error(body.line_of("block_on"), f"{path}.block_on", f"must be one of {', '.join(SEVERITIES)}")
        check.boolean(body, "new_only", path)
        if kind == "secrets":
            check.boolean(body, "block", path)
            check.string(body, "baseline", path)
        if kind == "dependencies":
            for name in check.string_list(body, "requirements", path):
                if not name.strip() or name.startswith("/") or ".." in name.split("/"):
                    check.error(body.line_of("requirements"), f"{path}.requirements",
                                f"'{name}' must be a path inside the workflow's folder")  # fmt: skip


# Cost and budget sections (the costs app prices attempts and enforces budgets from them).
COST_PROVIDERS = ("aws", "azure", "gcp")
COST_MODELS = ("allocation", "instance")
COST_FIELDS = {"provider", "region", "instance_type", "model", "requests", "usage"}
TASK_COST_FIELDS = {"requests", "usage"}
COST_REQUEST_FIELDS = {"cpu", "memory_gib"}
COST_USAGE_FIELDS = {"transfer_gb", "storage_gb_month", "gb_seconds", "requests"}
BUDGET_FIELDS = {"run", "day", "month", "warn_at"}


def check_cost(top: LineDict, check: Checker) -> None:
    """`cost: {provider, region, instance_type, model, requests: {cpu, memory_gib}, usage: {...}}`."""
    body = top.get("cost")
    if not isinstance(body, LineDict):
        return
    check_cost_body(body, "cost", check, COST_FIELDS)
    named = [key for key in ("provider", "region", "instance_type") if key in body]
    if named and len(named) < 3:
        missing = [key for key in ("provider", "region", "instance_type") if key not in body]
        check.error(
            top.line_of("cost"),
            "cost",
            f"give provider, region and instance_type together (missing {', '.join(missing)})",
        )
    provider = body.get("provider")
    if provider is not None and provider not in COST_PROVIDERS:
        check.error(body.line_of("provider"), "cost.provider", f"must be one of {', '.join(COST_PROVIDERS)}")
    for key in ("region", "instance_type"):
        check.string(body, key, "cost")
    model = body.get("model")
    if model is not None and model not in COST_MODELS:
        check.error(body.line_of("model"), "cost.model", f"must be one of {', '.join(COST_MODELS)}")


def check_cost_body(body: LineDict, path: str, check: Checker, allowed: set[str]) -> None:
    check.unknown_fields(body, allowed, path)
    for key, fields in (("requests", COST_REQUEST_FIELDS), ("usage", COST_USAGE_FIELDS)):
        if body.get(key) is None:
            continue
        part = check.mapping(body[key], body.line_of(key), f"{path}.{key}")
        if part is None:
            continue
        check.unknown_fields(part, fields, f"{path}.{key}")
        for name in fields:
            check.number(part, name, f"{path}.{key}", minimum=0)


def check_budget(top: LineDict, check: Checker) -> None:
    """`budget: {run: 0.50, day: 5, month: 100, warn_at: 0.8}` in USD; warn_at is a fraction."""
    body = top.get("budget")
    if not isinstance(body, LineDict):
        return
    check.unknown_fields(body, BUDGET_FIELDS, "budget")
    for key in ("run", "day", "month"):
        value = check.number(body, key, "budget", minimum=0)
        if value == 0:
            check.error(body.line_of(key), f"budget.{key}", "must be above 0 (leave it out for no budget)")
    check.number(body, "warn_at", "budget", minimum=0.01, maximum=1)


# The tracing section (the tracing app reads it: tracing/otel/config.py).
TRACING_FIELDS = {"enabled", "sampler", "ratio", "tail", "attributes"}
TRACING_SAMPLERS = ("always_on", "always_off", "ratio", "tail")
TRACING_OTEL_SAMPLERS = {"parentbased_always_on", "parentbased_always_off", "traceidratio", "parentbased_traceidratio"}
TRACING_TAIL_FIELDS = {"slower_than", "slower_than_usual", "failed", "retried", "tags"}


def check_tracing(top: LineDict, check: Checker) -> None:
    """`tracing: {enabled, sampler, ratio, tail: {slower_than, slower_than_usual, failed, retried, tags},
    attributes}`."""
    body = top.get("tracing")
    if not isinstance(body, LineDict):
        return
    check.unknown_fields(body, TRACING_FIELDS, "tracing")
    check.boolean(body, "enabled", "tracing")
    sampler = body.get("sampler")
    if sampler is not None and sampler not in TRACING_SAMPLERS and sampler not in TRACING_OTEL_SAMPLERS:
        check.error(body.line_of("sampler"), "tracing.sampler", f"must be one of {', '.join(TRACING_SAMPLERS)}")
    check.number(body, "ratio", "tracing", minimum=0, maximum=1)
    check.string_map(body, "attributes", "tracing")
    if body.get("tail") is None:
        return
    tail = check.mapping(body["tail"], body.line_of("tail"), "tracing.tail")
    if tail is None:
        return
    check.unknown_fields(tail, TRACING_TAIL_FIELDS, "tracing.tail")
    check.number(tail, "slower_than", "tracing.tail", minimum=0)
    check.number(tail, "slower_than_usual", "tracing.tail", minimum=1)
    check.boolean(tail, "failed", "tracing.tail")
    check.boolean(tail, "retried", "tracing.tail")
    check.string_map(tail, "tags", "tracing.tail")
