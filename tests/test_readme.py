"""The README a newcomer reads (issue 20): short, in the order they act, its Layout picture
the house's own rules, its links alive, and its commands — run in its order on a fresh
clone — doing what it shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.readme_walk import README, commands, examples, fresh_clone, unmatched, walk
from tests.test_layers import ALLOWED

REPO = README.parent
# Pages the other parts of the work write (J17, S18, P22, U19): checked once they exist.
WRITTEN_ELSEWHERE = {"docs/isolation.md", "docs/semantics.md", "docs/speed.md", "docs/ui.md"}


def test_the_readme_is_short_and_in_the_order_a_newcomer_acts() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 250
    order = ["## Two commands", "## The loop", "## The UI", "## On AWS"]
    found = [text.index(heading) for heading in order]
    assert found == sorted(found)
    first_screen = "\n".join(text.splitlines()[:60])
    assert "make run" in first_screen and "## The loop" in first_screen


def _layout(text: str) -> tuple[dict[str, str], set[tuple[str, str]]]:
    """(node id -> room, edges as (room, room)) of the README's mermaid picture."""
    [diagram] = re.findall(r"```mermaid\n(.*?)```", text, re.DOTALL)
    nodes = {m[0]: m[1].split(":")[0] for m in re.findall(r'^\s*(\w+)\["([^"]+)"\]', diagram, re.M)}
    edges = set()
    for source, targets in re.findall(r"^\s*(\w+)\s*-->\s*(.+)$", diagram, re.M):
        for target in targets.split("&"):
            edges.add((nodes[source], nodes[target.strip()]))
    return nodes, edges


def test_the_layout_picture_is_tests_test_layers_allowed() -> None:
    nodes, edges = _layout(README.read_text())
    allowed = {(room, other) for room, others in ALLOWED.items() for other in others}
    assert edges == allowed
    rooms = set(ALLOWED) | {other for others in ALLOWED.values() for other in others}
    assert set(nodes.values()) == rooms


def test_the_layout_check_would_see_a_missing_or_extra_edge() -> None:
    text = README.read_text()
    fewer = text.replace("  console --> core\n", "")
    assert _layout(fewer)[1] != _layout(text)[1]


def test_every_link_of_the_readme_and_its_pages_leads_somewhere() -> None:
    pages = [README, *sorted((REPO / "docs").glob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(([^)#]+)\)", page.read_text()):
            if "://" in target:
                continue
            path = (page.parent / target).resolve()
            shown = str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)
            if shown in WRITTEN_ELSEWHERE and not path.exists():
                continue  # another part's page, not merged yet
            assert path.exists(), f"{page.name} links to {target}, which does not exist"


def test_the_walk_runs_the_readmes_commands_in_its_order() -> None:
    walked = commands(README.read_text())
    assert walked[0] == "make run" and "make test" not in walked
    assert walked[1] == "source .venv/bin/activate"
    assert all("--target sagemaker" not in c for c in walked)  # AWS is not walked
    shown = [c for cs, _ in examples(README.read_text()) for c in cs]
    assert set(shown) <= {*walked, "make test"}


@pytest.mark.e2e
def test_the_readmes_commands_do_what_it_shows_on_a_fresh_clone(tmp_path: Path) -> None:
    """Every command, in order, in a fresh copy of the tracked files (the virtualenv
    borrowed: ``python -m tests.readme_walk --fresh-venv`` builds one as ``make run`` does);
    each exits 0 and prints every line its README example shows (ids, times, ports and the
    folder aside). ``python -m tests.readme_walk --refresh`` rewrites the examples from a run."""
    clone = fresh_clone(tmp_path)
    steps = walk(clone)
    try:
        assert [s.code for s in steps] == [0] * len(steps), steps[-1].output
        assert [s.template for s in steps] == [
            c for c in commands(README.read_text()) if c != "source .venv/bin/activate"
        ]
        outputs = {s.template: s.output for s in steps}
        for shown_for, example in examples(README.read_text()):
            output = "\n".join(outputs.get(c, "") for c in shown_for)
            missing = unmatched(example, output, clone)
            if missing:  # the whole output, not pytest's truncated repr of it
                pytest.fail(f"{shown_for}: not printed: {missing}\noutput:\n{output}", False)
    finally:
        import subprocess

        python = str(clone / ".venv" / "bin" / "python")
        for flags in (["--delete-endpoint", "moonpipe-endpoint"], ["--stop-host"]):
            subprocess.run(
                [python, "run_pipeline.py", *flags], cwd=clone, capture_output=True, check=False
            )
