"""The run graph: matrix legs expanded into nodes, edges from `needs`, and a layered layout.

A node is one thing that runs: a task, or one leg of a matrix task (`transform[format=csv]`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from . import conditions
from .definition import Matrix, TaskSpec, WorkflowSpec, parse_need

# Excludes may trim a big product below the cap, but never expand an absurd one.
MAX_PRODUCT = 65536


@dataclass
class Node:
    id: str
    task: TaskSpec
    leg: dict[str, Any] | None = None

    @property
    def leg_key(self) -> str | None:
        return leg_key(self.leg) if self.leg is not None else None


@dataclass
class Plan:
    spec: WorkflowSpec
    nodes: dict[str, Node]
    graph: nx.DiGraph
    task_nodes: dict[str, list[str]] = field(default_factory=dict)

    def upstream(self, node_id: str) -> list[str]:
        return list(self.graph.predecessors(node_id))

    def downstream(self, node_id: str) -> list[str]:
        return list(self.graph.successors(node_id))

    def descendants(self, node_ids: set[str]) -> set[str]:
        result = set(node_ids)
        for node_id in node_ids:
            result |= nx.descendants(self.graph, node_id)
        return result


def leg_key(leg: dict[str, Any]) -> str:
    return ",".join(f"{k}={conditions.to_text(v)}" for k, v in leg.items())


def node_id(task_id: str, leg: dict[str, Any] | None) -> str:
    return task_id if leg is None else f"{task_id}[{leg_key(leg)}]"


def _matches(combo: dict[str, Any], pattern: dict[str, Any]) -> bool:
    return all(k in combo and conditions.to_text(combo[k]) == conditions.to_text(v) for k, v in pattern.items())


def matrix_legs(matrix: Matrix, cap: int) -> list[dict[str, Any]]:
    """Expand a matrix as GitHub Actions does: product of axes, minus exclude, plus include.

    An include entry extends every product combination it agrees with on the original axes
    (adding its other keys, which may overwrite what an earlier include added); if it agrees
    with none, it becomes a leg of its own.
    """
    axes = list(matrix.axes)
    size = math.prod(len(v) for v in matrix.axes.values()) if axes else 0
    if size > MAX_PRODUCT:
        raise ValueError(f"expands to {size} combinations, more than the cap of {cap} (max_legs)")
    combos = (
        [dict(zip(axes, values, strict=True)) for values in itertools.product(*matrix.axes.values())] if axes else []
    )
    combos = [c for c in combos if not any(_matches(c, ex) for ex in matrix.exclude)]
    base_count = len(combos)
    for extra in matrix.include:
        on_axes = {k: v for k, v in extra.items() if k in matrix.axes}
        added = {k: v for k, v in extra.items() if k not in matrix.axes}
        hit = False
        for combo in combos[:base_count]:
            if _matches(combo, on_axes):
                combo.update(added)
                hit = True
        if not hit:
            combos.append(dict(extra))
    if len(combos) > cap:
        raise ValueError(f"expands to {len(combos)} legs, more than the cap of {cap} (max_legs)")
    keys = [leg_key(c) for c in combos]
    if len(set(keys)) != len(keys):
        raise ValueError("two legs have the same values; make include entries distinct")
    return combos


def build_plan(spec: WorkflowSpec) -> Plan:
    """Expand matrices and connect nodes; the spec must already be validated."""
    graph = nx.DiGraph()
    nodes: dict[str, Node] = {}
    task_nodes: dict[str, list[str]] = {}
    task_graph = nx.DiGraph()
    task_graph.add_nodes_from(spec.tasks)
    for task in spec.tasks.values():
        for need in task.needs:
            task_graph.add_edge(parse_need(need)[0], task.id)
    for task_id in nx.lexicographical_topological_sort(task_graph, key=_task_order(spec)):
        task = spec.tasks[task_id]
        legs = matrix_legs(task.matrix, spec.max_legs) if task.matrix else [None]
        task_nodes[task_id] = []
        for leg in legs:
            node = Node(node_id(task_id, leg), task, leg)
            nodes[node.id] = node
            task_nodes[task_id].append(node.id)
            graph.add_node(node.id)
            for need in task.needs:
                upstream, leg_name = parse_need(need)
                targets = task_nodes[upstream]
                if leg_name not in (None, "*"):
                    targets = [n for n in targets if nodes[n].leg_key == leg_name]
                for target in targets:
                    graph.add_edge(target, node.id)
    return Plan(spec, nodes, graph, task_nodes)


def _task_order(spec: WorkflowSpec):
    order = {task_id: index for index, task_id in enumerate(spec.tasks)}
    return lambda task_id: f"{order[task_id]:08d}"


def layers(plan: Plan) -> list[list[str]]:
    """Topological generations, each ordered to keep edges short (one barycentre sweep down)."""
    generations = [list(g) for g in nx.topological_generations(plan.graph)]
    position: dict[str, float] = {}
    order = {node_id: index for index, node_id in enumerate(plan.nodes)}
    for depth, generation in enumerate(generations):
        if depth == 0:
            generation.sort(key=order.__getitem__)
        else:

            def weight(n: str) -> tuple[float, int]:
                parents = [position[p] for p in plan.graph.predecessors(n) if p in position]
                return (sum(parents) / len(parents) if parents else 0.0, order[n])

            generation.sort(key=weight)
        for index, node_id in enumerate(generation):
            position[node_id] = float(index)
        generations[depth] = generation
    return generations
