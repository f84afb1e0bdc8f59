"""The graph is laid out from the definition's own edges, for any definition."""

from __future__ import annotations

import json

from pipeline.report.graph import GraphLayout, layout_definition
from tests.pipeline.local.local_defs import full_definition


def _rows(layout: GraphLayout) -> list[list[str]]:
    by_y: dict[int, list[tuple[int, str]]] = {}
    for node in layout.nodes:
        by_y.setdefault(node.y, []).append((node.x, node.name))
    return [[name for _, name in sorted(row)] for _, row in sorted(by_y.items())]


def test_layers_follow_references_depends_on_and_condition_branches() -> None:
    layout = layout_definition(json.dumps(full_definition()))
    assert _rows(layout) == [
        ["Prep"],
        ["Train"],
        ["Eval"],
        ["Check"],
        ["Reg-RegisterModel", "Cre-CreateModel", "TooLow"],
        ["Cfg"],
        ["Deploy"],
    ]
    edges = {(e.source, e.target): e.label for e in layout.edges}
    assert edges[("Check", "TooLow")] == "else"
    assert edges[("Check", "Reg-RegisterModel")] == "if true"
    # Train → Reg is implied by Train → Eval → Check → Reg: drawn once, not twice.
    assert ("Train", "Reg-RegisterModel") not in edges
    assert ("Cfg", "Deploy") in edges


def test_another_definition_draws_its_own_shape() -> None:
    def step(name: str, after: list[str]) -> dict:
        return {
            "Name": name,
            "Type": "Fail",
            "DependsOn": after,
            "Arguments": {"ErrorMessage": name},
        }

    doc = {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [step("A", []), step("B", ["A"]), step("C", ["A"]), step("D", ["B", "C"])],
    }
    layout = layout_definition(json.dumps(doc))
    assert _rows(layout) == [["A"], ["B", "C"], ["D"]]
    assert {(e.source, e.target) for e in layout.edges} == {
        ("A", "B"),
        ("A", "C"),
        ("B", "D"),
        ("C", "D"),
    }
    node = {n.name: n for n in layout.nodes}
    assert all(n.x >= 0 and n.x + n.width <= layout.width for n in layout.nodes)
    edge = next(e for e in layout.edges if (e.source, e.target) == ("A", "B"))
    assert (edge.y1, edge.y2) == (node["A"].y + node["A"].height, node["B"].y)
