"""Lay out a pipeline graph from the definition's own edges, as Studio draws it.

Edges come from the local engine's parser (DependsOn, every ``Steps.X`` reference, and the
condition that gates a branch step), reduced to the ones not implied by a longer path, so
any definition draws without hand-placed nodes. Layers are the longest path from a root;
the template turns the coordinates into SVG. A node shows the step's name (the one the CLI
takes: ``--from-step RegisterMoonModel-RegisterModel``), so every box is made wide enough
for the longest name and status line of the definition.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.local.graph import PipelineGraph, parse_definition, upstream

NODE_W, NODE_H, GAP_X, GAP_Y, MARGIN = 200, 58, 36, 46, 16
PAD_X = 10  # the text's inset from the box's left edge (graph.svg.j2 draws it at x=10)
# Widest glyph advance per character, measured in Chromium with the report's fonts (DejaVu
# Sans, the system-ui fallback here): 13 px semibold names up to 8.3 px for capitals, 11 px
# info lines up to 6.9 px. Estimating high keeps every text inside its box.
NAME_PX, INFO_PX = 8.6, 7.0
INFO_SUFFIX = " · Succeeded · 999.9 s"  # the longest status line after the step type


@dataclass(frozen=True)
class GraphNode:
    """A step's box: its name and top-left corner."""

    name: str
    x: int
    y: int
    width: int = NODE_W
    height: int = NODE_H


@dataclass(frozen=True)
class GraphEdge:
    """An arrow from one step to a step that waits for it; ``label`` marks a branch."""

    source: str
    target: str
    x1: int
    y1: int
    x2: int
    y2: int
    label: str = ""


@dataclass(frozen=True)
class GraphLayout:
    """Every node and edge, and the drawing's size."""

    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    width: int
    height: int


def layout_definition(definition: str) -> GraphLayout:
    """The layout of a definition JSON (raises the engine's DefinitionError if it is bad)."""
    return layout_plan(parse_definition(definition))


def layout_plan(plan: PipelineGraph) -> GraphLayout:
    """Layers by longest path, nodes centred in their layer, edges between box borders."""
    parents = {s.name: upstream(s) for s in plan.steps}
    direct = _reduce(parents)
    node_w = node_width(plan)
    layer: dict[str, int] = {}
    for spec in plan.steps:  # plan order is topological
        layer[spec.name] = 1 + max((layer[p] for p in parents[spec.name]), default=-1)
    rows: dict[int, list[str]] = {}
    for spec in plan.steps:
        rows.setdefault(layer[spec.name], []).append(spec.name)
    widest = max((len(r) for r in rows.values()), default=1)
    width = 2 * MARGIN + widest * node_w + (widest - 1) * GAP_X
    nodes = {
        name: _place(name, i, len(row), depth, width, node_w)
        for depth, row in rows.items()
        for i, name in enumerate(row)
    }
    edges = [
        _edge(plan, source, target, nodes)
        for target in (s.name for s in plan.steps)
        for source in sorted(direct[target])
    ]
    height = 2 * MARGIN + len(rows) * NODE_H + max(len(rows) - 1, 0) * GAP_Y
    return GraphLayout(tuple(nodes.values()), tuple(edges), width, height)


def node_width(plan: PipelineGraph) -> int:
    """Wide enough for the longest step name and status line (never under NODE_W)."""
    needed = [
        max(NAME_PX * len(s.name), INFO_PX * len(s.step_type + INFO_SUFFIX)) for s in plan.steps
    ]
    return max(NODE_W, round(max(needed, default=0)) + 2 * PAD_X)


def _reduce(parents: dict[str, set[str]]) -> dict[str, set[str]]:
    """Drop an edge a→c when c also waits for a through another parent (transitive)."""
    ancestors: dict[str, set[str]] = {}

    def of(name: str) -> set[str]:
        if name not in ancestors:
            ancestors[name] = (
                set().union(*({p} | of(p) for p in parents[name])) if parents[name] else set()
            )
        return ancestors[name]

    return {
        name: {p for p in ps if not any(p in of(q) for q in ps if q != p)}
        for name, ps in parents.items()
    }


def _place(name: str, index: int, count: int, depth: int, width: int, node_w: int) -> GraphNode:
    row_width = count * node_w + (count - 1) * GAP_X
    x = (width - row_width) // 2 + index * (node_w + GAP_X)
    return GraphNode(name, x, MARGIN + depth * (NODE_H + GAP_Y), node_w)


def _edge(plan: PipelineGraph, source: str, target: str, nodes: dict[str, GraphNode]) -> GraphEdge:
    a, b = nodes[source], nodes[target]
    gate = next((g for g in plan.step(target).gates if g.condition == source), None)
    label = "" if gate is None else ("if true" if gate.branch else "else")
    return GraphEdge(
        source, target, a.x + a.width // 2, a.y + a.height, b.x + b.width // 2, b.y, label
    )
