"""What a task's conditions (`skip_if`) and `${{ }}` templates see: every task done so far by node
(a matrix task also as a whole: its status, and its legs' outputs keyed by leg), the run's params,
the node's matrix leg, and the run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .dag import Node, Plan
from .hooks import CANCELLED, FAILED, RUNNING, SKIPPED, SUCCESS, UPSTREAM_FAILED, NodeOutcome


def referenced(task: Any, spec: Any) -> bool:
    """Whether the task needs a context at all: a condition, or a template in its command or in
    its own or the workflow's `env:`."""
    texts = [task.run] if isinstance(task.run, str) else list(task.run)
    texts += [*task.env.values(), *spec.env.values()]
    return bool(task.skip_if) or any("${{" in t for t in texts)


def task_context(spec: Any, plan: Plan, outcomes: Mapping[str, NodeOutcome], node: Node, *, params: Any,
                 run_id: str) -> dict[str, Any]:  # fmt: skip
    tasks: dict[str, Any] = {}
    for task_id, node_ids in plan.task_nodes.items():
        done = [(n, outcomes[n]) for n in node_ids if n in outcomes]
        if not done:
            continue
        for node_id, outcome in done:
            tasks[node_id] = _view(outcome)
        if spec.tasks[task_id].matrix is not None:
            legs = {plan.nodes[n].leg_key: _view(o) for n, o in done}
            tasks[task_id] = {
                "status": _aggregate([o.status for _n, o in done], len(node_ids)),
                "outputs": {key: leg["outputs"] for key, leg in legs.items()},
                "legs": legs,
            }
    ctx: dict[str, Any] = dict(tasks)
    ctx.update(tasks=tasks, params=params, matrix=dict(node.leg or {}), run={"id": run_id, "workflow": spec.name})
    return ctx


def _view(outcome: NodeOutcome) -> dict[str, Any]:
    return {
        "status": outcome.status,
        "exit_code": outcome.exit_code,
        "outputs": outcome.outputs,
        "attempts": outcome.attempts,
    }


def _aggregate(statuses: list[str], total: int) -> str:
    for status in (FAILED, UPSTREAM_FAILED, CANCELLED):
        if status in statuses:
            return status
    if len(statuses) < total:
        return RUNNING
    if all(s == SKIPPED for s in statuses):
        return SKIPPED
    return SUCCESS
