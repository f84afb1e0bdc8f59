"""The house's rules, checked on the code itself: imports point down, nothing imports in a
circle, and nothing above the targets asks which target it holds.

Every import counts, including the ones inside functions (a function-level import that
closes a cycle is still a cycle; it is only hidden from the module's head).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("pipeline", "steps")

# room -> the rooms it may import besides itself; a room not listed here (the front:
# pipeline.commands, pipeline.cli, pipeline.flags) may import any room. steps/ and
# pipeline/assembly/ are one build layer: the builder wires the steps, and the steps take
# the SDK helpers and the declared parameters from pipeline/assembly/ (no module cycle).
ALLOWED = {
    "pipeline.core": (),
    "pipeline.config": ("pipeline.core", "pipeline.config_checks"),
    "pipeline.console": ("pipeline.core",),
    "pipeline.local": ("pipeline.core",),
    "pipeline.targets": ("pipeline.core", "pipeline.local", "pipeline.config"),
    "pipeline.report": ("pipeline.core", "pipeline.local", "pipeline.targets"),
    "pipeline.sweep": (
        "pipeline.core",
        "pipeline.local",
        "pipeline.targets",
        "pipeline.report",
        "pipeline.console",
    ),
    "pipeline.assembly": ("pipeline.core", "pipeline.config", "steps"),
    "steps": ("pipeline.core", "pipeline.config", "pipeline.assembly"),
}


def modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield name, path


def imports_of(name: str, path: Path) -> set[str]:
    """Every module ``name`` imports, wherever the import statement stands."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m.split(".")[0] in PACKAGES}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    known = dict(modules())
    edges = {}
    for name, path in known.items():
        edges[name] = {m for m in imports_of(name, path) if m in known and m != name}
    return edges


def room_of(module: str) -> str:
    """``pipeline.local.store.records`` -> ``pipeline.local``; ``steps.data`` -> ``steps``."""
    parts = module.split(".")
    return parts[0] if parts[0] == "steps" else ".".join(parts[:2])


def violations(graph: dict[str, set[str]], room: str) -> list[str]:
    """``module imports target`` for every import of ``room`` that ALLOWED does not allow."""
    allowed = {room, *ALLOWED[room]}
    return sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if room_of(module) == room
        for target in targets
        if room_of(target) not in allowed
    )


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every set of modules that import each other in a circle (Tarjan's components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_a_room_imports_nothing_above_it(graph: dict[str, set[str]], room: str) -> None:
    assert violations(graph, room) == []


def test_no_module_imports_in_a_circle(graph: dict[str, set[str]]) -> None:
    assert cycles(graph) == []


def test_the_checks_find_what_they_look_for(tmp_path: Path) -> None:
    """The checker itself: a function-level import is seen, a forbidden one and a circle
    are reported."""
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from pipeline.report import write\n    return write\n")
    assert "pipeline.report.write" in imports_of("pipeline.local.m", module)
    assert violations({"pipeline.local.m": {"pipeline.report.write"}}, "pipeline.local") == [
        "pipeline.local.m imports pipeline.report.write"
    ]
    assert violations({"pipeline.core.a": {"pipeline.core.b"}}, "pipeline.core") == []
    assert violations({"pipeline.core.a": {"pipeline.config"}}, "pipeline.core") == [
        "pipeline.core.a imports pipeline.config"
    ]
    circle = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(circle) == [["a", "b", "c"]]


ASKS_WHICH_TARGET = re.compile(
    r"target\.name\s*(==|!=|in\b)|isinstance\(\s*target\b|(getattr|hasattr)\(\s*target\b"
    r"|target\._[a-z]|type:\s*ignore\[attr-defined\]"
)


def test_nothing_outside_the_targets_asks_which_target_it_holds() -> None:
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for name, path in modules()
        if room_of(name) != "pipeline.targets"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if ASKS_WHICH_TARGET.search(line)
    ]
    assert found == []
