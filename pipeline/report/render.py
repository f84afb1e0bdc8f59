"""Render a report model to one self-contained HTML file with the Jinja2 templates here.

Autoescaping is on (step names, log lines and failure reasons are data, not markup); the
stylesheet is inlined and pictures are data URIs, so the file opens anywhere, offline.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from pipeline.report.compare import Comparison
from pipeline.report.graph import GraphLayout
from pipeline.report.plots import Figure
from pipeline.report.report_model import Report


@functools.cache
def environment() -> Any:
    """The template environment (templates ship as package data); one per process, so a
    report rewritten after every step compiles its templates once."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_comparison(comparison: Comparison, figures: list[Figure]) -> str:
    """The HTML page comparing executions."""
    return environment().get_template("compare.html.j2").render(c=comparison, figures=figures)


def render_report(report: Report, graph: GraphLayout, figures: list[Figure]) -> str:
    """The HTML page of one execution."""
    steps = {s.name: s for s in report.steps}
    return (
        environment()
        .get_template("report.html.j2")
        .render(r=report, g=graph, steps=steps, figures=figures)
    )
