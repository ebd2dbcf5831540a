"""Lay out a run's DAG (layers left to right, a matrix task's legs boxed together) and render it as inline SVG.

The page colours everything through CSS classes (`.node.status-running rect`, `.edge`, `.group rect`);
the markup carries geometry and data attributes only, so live updates just swap a class.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import networkx as nx
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .engine.dag import Plan, layers

NODE_W, NODE_H = 168.0, 44.0
GAP_X, GAP_Y = 72.0, 14.0  # between layers; between nodes/boxes inside a layer
GROUP_PAD, GROUP_HEAD = 8.0, 22.0  # box padding around legs; room for the box's title above them
MARGIN = 16.0
LABEL_CHARS, GROUP_CHARS = 22, 24  # what fits in NODE_W (or the box) at the page's 12px font
ORDER_SWEEPS = 2  # down+up barycentre rounds; more rarely removes another crossing on real workflows


@dataclass
class LaidOutNode:
    id: str
    task_id: str
    label: str
    leg_key: str | None
    x: float
    y: float
    w: float
    h: float
    layer: int
    pre: bool = False  # drawn before the workflow's roots (a security gate), not a task


@dataclass
class LaidOutGroup:
    task_id: str
    x: float
    y: float
    w: float
    h: float


@dataclass
class LaidOutEdge:
    source: str
    target: str
    d: str


@dataclass
class Layout:
    nodes: dict[str, LaidOutNode]
    edges: list[LaidOutEdge]
    groups: list[LaidOutGroup]
    width: float
    height: float


@dataclass
class _Block:
    """What moves as one inside a layer: a plain task, or the legs of a matrix task in leg order."""

    task_id: str
    members: list[str]
    grouped: bool
    top: float = 0.0

    @property
    def head(self) -> float:
        return GROUP_HEAD if self.grouped else 0.0

    @property
    def height(self) -> float:
        legs = len(self.members) * NODE_H + (len(self.members) - 1) * GAP_Y
        return self.head + legs + (GROUP_PAD if self.grouped else 0.0)

    def centres(self) -> Iterable[tuple[str, float]]:
        for index, node_id in enumerate(self.members):
            yield node_id, self.top + self.head + index * (NODE_H + GAP_Y) + NODE_H / 2


Neighbours = Callable[[str], Iterable[str]]
Pass = tuple[list[_Block], Neighbours]


def layout_plan(plan: Plan, pre: Sequence[tuple[str, str]] = ()) -> Layout:
    """Place every node of the plan: x by topological generation, y ordered and packed to keep edges short.

    `pre` adds (id, label) nodes in a layer of their own before the roots, each with an edge to
    every root: what runs before the tasks (a security gate).
    """
    columns = _columns(plan)
    graph = plan.graph
    if pre:
        graph = plan.graph.copy()
        roots = [node_id for node_id in plan.nodes if plan.graph.in_degree(node_id) == 0]
        for node_id, _label in pre:
            graph.add_edges_from((node_id, root) for root in roots)
            graph.add_node(node_id)
        columns.insert(0, [_Block(node_id, [node_id], grouped=False) for node_id, _label in pre])
    _order(columns, graph)
    _place(columns, graph)
    return _geometry(plan, columns, graph, dict(pre))


def _columns(plan: Plan) -> list[list[_Block]]:
    # Legs share their task's needs, so they land in one generation; keying blocks by (layer, task)
    # would still box them per layer if that ever changed.
    columns: list[list[_Block]] = []
    for generation in layers(plan):
        column: list[_Block] = []
        matrix_blocks: dict[str, _Block] = {}
        for node_id in generation:
            node = plan.nodes[node_id]
            if node.leg is None:
                column.append(_Block(node.task.id, [node_id], grouped=False))
            elif node.task.id not in matrix_blocks:
                matrix_blocks[node.task.id] = _Block(node.task.id, [], grouped=True)
                column.append(matrix_blocks[node.task.id])
        in_layer = set(generation)
        for task_id, block in matrix_blocks.items():
            block.members = [n for n in plan.task_nodes[task_id] if n in in_layer]
        columns.append(column)
    return columns


def _passes(columns: list[list[_Block]], graph: nx.DiGraph) -> tuple[list[Pass], list[Pass]]:
    """Layers in sweep order with the neighbours that steer them: parents going down, children going up."""
    down = [(columns[d], graph.predecessors) for d in range(1, len(columns))]
    up = [(columns[d], graph.successors) for d in range(len(columns) - 2, -1, -1)]
    return down, up


def _order(columns: list[list[_Block]], graph: nx.DiGraph) -> None:
    """Barycentre ordering, block by block, so a matrix task's legs never get separated."""
    slot: dict[str, float] = {}

    def renumber(column: list[_Block]) -> None:
        index = 0
        for block in column:
            for node_id in block.members:
                slot[node_id] = float(index)
                index += 1

    def barycentre(block: _Block, neighbours: Neighbours) -> float:
        near = [slot[n] for m in block.members for n in neighbours(m)]
        own = [slot[m] for m in block.members]
        return sum(near) / len(near) if near else sum(own) / len(own)

    for column in columns:
        renumber(column)
    down, up = _passes(columns, graph)
    for column, neighbours in (down + up) * ORDER_SWEEPS:
        keys = {id(block): (barycentre(block, neighbours), index) for index, block in enumerate(column)}
        column.sort(key=lambda block: keys[id(block)])
        renumber(column)


def _place(columns: list[list[_Block]], graph: nx.DiGraph) -> None:
    """Vertical positions: each block wishes to sit level with its neighbours; _pack keeps the order and gaps."""
    centre: dict[str, float] = {}
    for column in columns:
        y = 0.0
        for block in column:
            block.top = y
            y += block.height + GAP_Y
            centre.update(block.centres())
    down, up = _passes(columns, graph)
    # Down, up, down: the first layer settles on its children, then the rest settle on it again.
    for column, neighbours in down + up + down:
        wishes = []
        for block in column:
            own = dict(block.centres())
            near = [centre[n] for m in block.members for n in neighbours(m)]
            mean_own = sum(own.values()) / len(own)
            wishes.append(block.top + (sum(near) / len(near) - mean_own if near else 0.0))
        _pack(column, wishes)
        for block in column:
            centre.update(block.centres())
    top = min((block.top for column in columns for block in column), default=MARGIN)
    for column in columns:
        for block in column:
            block.top += MARGIN - top


def _pack(column: list[_Block], wishes: list[float]) -> None:
    """Put blocks as near their wished tops as possible, in order, GAP_Y apart (pool-adjacent-violators).

    Blocks that would collide merge into a cluster that sits at the mean of its members' wishes,
    so a fan-out centres on its parent instead of hanging below it.
    """
    clusters: list[list[float]] = []  # [first index, last index, height, sum of wished cluster tops, count]
    for index, block in enumerate(column):
        current = [index, index, block.height, wishes[index], 1]
        while clusters and clusters[-1][3] / clusters[-1][4] + clusters[-1][2] + GAP_Y > current[3] / current[4]:
            prev = clusters.pop()
            shift = prev[2] + GAP_Y
            current = [
                prev[0],
                current[1],
                shift + current[2],
                prev[3] + current[3] - shift * current[4],
                prev[4] + current[4],
            ]
        clusters.append(current)
    for first, last, _height, wish, count in clusters:
        y = wish / count
        for block in column[int(first) : int(last) + 1]:
            block.top = y
            y += block.height + GAP_Y


def _geometry(plan: Plan, columns: list[list[_Block]], graph: nx.DiGraph, pre: Mapping[str, str]) -> Layout:
    nodes: dict[str, LaidOutNode] = {}
    groups: list[LaidOutGroup] = []
    for layer, column in enumerate(columns):
        x = MARGIN + GROUP_PAD + layer * (NODE_W + GAP_X)
        for block in column:
            if block.grouped:
                groups.append(
                    LaidOutGroup(block.task_id, x - GROUP_PAD, block.top, NODE_W + 2 * GROUP_PAD, block.height)
                )
            for node_id, middle in block.centres():
                if node_id in pre:
                    nodes[node_id] = LaidOutNode(
                        node_id, node_id, pre[node_id], None, x, middle - NODE_H / 2, NODE_W, NODE_H, layer, pre=True
                    )
                    continue
                node = plan.nodes[node_id]
                label = (node.leg_key or node_id) if node.leg is not None else node.task.id
                nodes[node_id] = LaidOutNode(
                    node_id, node.task.id, label, node.leg_key, x, middle - NODE_H / 2, NODE_W, NODE_H, layer
                )
    edges = [LaidOutEdge(u, v, _curve(nodes[u], nodes[v])) for u, v in graph.edges]
    count = len(columns)
    width = 2 * (MARGIN + GROUP_PAD) + count * NODE_W + max(count - 1, 0) * GAP_X
    bottom = max((block.top + block.height for column in columns for block in column), default=0.0)
    return Layout(nodes, edges, groups, width, max(bottom + MARGIN, 2 * MARGIN))


def _curve(source: LaidOutNode, target: LaidOutNode) -> str:
    """A cubic Bézier from the middle of the source's right side to the middle of the target's left side."""
    x1, y1 = source.x + source.w, source.y + source.h / 2
    x2, y2 = target.x, target.y + target.h / 2
    bend = (x2 - x1) / 2
    return f"M{_num(x1)} {_num(y1)} C{_num(x1 + bend)} {_num(y1)} {_num(x2 - bend)} {_num(y2)} {_num(x2)} {_num(y2)}"


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_NOT_CLASS = re.compile(r"[^A-Za-z0-9_-]")


def render_svg(
    layout: Layout, statuses: Mapping[str, str] | None = None, *, task_ids: Mapping[str, int] | None = None
) -> SafeString:
    """The laid-out graph as an inline <svg>: edges, then group boxes, then nodes (each a focusable <g>).

    `statuses` maps node id -> TaskRun status (default `pending`); `task_ids` maps node id -> TaskRun pk,
    written as `data-task-run` so the live page can find a node by either.
    """
    statuses = statuses or {}
    task_ids = task_ids or {}
    width, height = _num(layout.width), _num(layout.height)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="dag" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="Workflow graph">'
    ]
    for edge in layout.edges:
        out.append(
            f'<path class="edge" data-source="{escape(edge.source)}" data-target="{escape(edge.target)}" '
            f'd="{edge.d}" fill="none"/>'
        )
    for group in layout.groups:
        out.append(
            f'<g class="group" data-task="{escape(group.task_id)}">'
            f'<rect x="{_num(group.x)}" y="{_num(group.y)}" width="{_num(group.w)}" height="{_num(group.h)}" rx="8"/>'
            f'<text class="group-label" x="{_num(group.x + GROUP_PAD)}" y="{_num(group.y + 15)}">'
            f"{escape(_truncate(group.task_id, GROUP_CHARS))}</text></g>"
        )
    for node_id, node in layout.nodes.items():
        status = _NOT_CLASS.sub("-", statuses.get(node_id) or "pending")
        task_run = f' data-task-run="{int(task_ids[node_id])}"' if node_id in task_ids else ""
        text_x = _num(node.x + 10)
        kind = "node pre" if node.pre else "node"
        out.append(
            f'<g class="{kind} status-{status}" data-node="{escape(node_id)}"{task_run} tabindex="0">'
            f'<rect x="{_num(node.x)}" y="{_num(node.y)}" width="{_num(node.w)}" height="{_num(node.h)}" rx="6"/>'
            f'<text class="label" x="{text_x}" y="{_num(node.y + 18)}">{escape(_truncate(node.label, LABEL_CHARS))}</text>'
            f'<text class="meta" x="{text_x}" y="{_num(node.y + 34)}"></text>'
            f"<title>{escape(node_id)}</title></g>"
        )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - every user-provided value above went through escape()
