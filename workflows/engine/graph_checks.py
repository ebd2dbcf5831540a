"""The checks across a workflow's tasks, once each task is read: every need names a task (and a
leg that exists), no cycle, and conditions and ${{ }} read only tasks upstream of their own."""

from __future__ import annotations

import difflib
from typing import Any

from . import conditions, templates
from .checker import Checker
from .definition import WorkflowSpec, parse_need


def check_graph(spec: WorkflowSpec, check: Checker) -> None:
    import networkx as nx

    from .dag import leg_key, matrix_legs

    graph = nx.DiGraph()
    graph.add_nodes_from(spec.tasks)
    for task in spec.tasks.values():
        seen = set()
        for need in task.needs:
            target, leg = parse_need(need)
            where, line = f"tasks.{task.id}.needs", task.line_of("needs")
            if need in seen:
                check.error(line, where, f"'{need}' is listed twice")
            seen.add(need)
            if target not in spec.tasks:
                hint = difflib.get_close_matches(target, list(spec.tasks), n=1)
                suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
                check.error(line, where, f"unknown task '{target}'{suggestion}")
                continue
            if target == task.id:
                check.error(line, where, f"task '{task.id}' cannot need itself")
                continue
            if leg not in (None, "*"):
                upstream = spec.tasks[target]
                if upstream.matrix is None:
                    check.error(line, where, f"'{target}' has no matrix, so '{need}' names no leg")
                else:
                    try:
                        keys = {leg_key(c) for c in matrix_legs(upstream.matrix, spec.max_legs)}
                    except ValueError:
                        keys = set()
                    if keys and leg not in keys:
                        check.error(line, where, f"'{target}' has no leg '{leg}' (legs: {', '.join(sorted(keys))})")
            graph.add_edge(target, task.id)
    for task in spec.tasks.values():
        if task.matrix is not None:
            try:
                matrix_legs(task.matrix, spec.max_legs)
            except ValueError as exc:
                check.error(task.line_of("matrix"), f"tasks.{task.id}.matrix", str(exc))
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        cycle = None
    if cycle:
        path = [edge[0] for edge in cycle] + [cycle[0][0]]
        first = spec.tasks[path[0]]
        check.error(first.line_of("needs"), f"tasks.{first.id}.needs", "cycle: " + " -> ".join(path))
        return
    _check_references(spec, graph, check)


def _check_references(spec: WorkflowSpec, graph: Any, check: Checker) -> None:
    """Conditions and ${{ }} may only read tasks upstream of the task (they'd be empty otherwise)."""
    import networkx as nx

    allowed_roots = {"params", "matrix", "run", "tasks", "true", "false", "null"}
    for task in spec.tasks.values():
        ancestors = nx.ancestors(graph, task.id)
        texts = []
        if task.skip_if:
            texts.append(("skip_if", task.skip_if))
        runs = [task.run] if isinstance(task.run, str) else task.run
        texts += [("run", expr) for text in runs for _s, _e, expr in templates.find_templates(text)]
        texts += [(f"env.{k}", expr) for k, v in task.env.items() for _s, _e, expr in templates.find_templates(v)]
        for where, text in texts:
            key = where.split(".", 1)[0]
            line = task.line_of("script" if key == "run" and "run" not in task.lines else key)
            try:
                expr = conditions.parse(text)
            except conditions.ConditionError:
                continue  # already reported
            for root, path in _task_refs(expr, text):
                if root in allowed_roots and root != "tasks":
                    if root == "matrix" and task.matrix is None:
                        check.error(line, f"tasks.{task.id}.{where}", "uses matrix but the task has no matrix")
                    if root == "params" and path and path not in spec.params:
                        check.error(line, f"tasks.{task.id}.{where}", f"unknown parameter '{path}'")
                    continue
                name = path if root == "tasks" else root
                if name is None:
                    continue
                base, _leg = parse_need(name)
                if base not in spec.tasks:
                    check.error(line, f"tasks.{task.id}.{where}", f"refers to unknown task '{base}'")
                elif base not in ancestors:
                    check.error(
                        line,
                        f"tasks.{task.id}.{where}",
                        f"refers to '{base}', which is not upstream of '{task.id}' (add it to needs)",
                    )


def _task_refs(expr: conditions.Expr, text: str) -> list[tuple[str, str | None]]:
    """(root, second segment) for each name path; the second segment names the task under `tasks.`."""
    return [(path[0], str(path[1]) if len(path) > 1 else None) for path in expr.paths()]
