"""Write a local execution's report: facts → model → layout + plots → one HTML file.

:class:`ReportWriter` is what the local target keeps while an execution runs: it rewrites
the page after every step (so a report of a running execution is never stale for long)
and draws each plot only once per distinct input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.local.store.atomic import write_bytes
from pipeline.report.boundary import BoundaryScorer
from pipeline.report.compare import Comparison, compare
from pipeline.report.compare_plots import comparison_figures
from pipeline.report.graph import layout_definition
from pipeline.report.local_source import local_facts, plot_data, report_path
from pipeline.report.plots import Figure, figures
from pipeline.report.render import render_comparison, render_report
from pipeline.report.report_model import Report, build_report

MAX_REPORT_BYTES = 2_000_000


class ReportWriter:
    """Writes the report of local executions in one store, caching drawn figures."""

    def __init__(self, store_root: Path) -> None:
        self.store_root = Path(store_root)
        self._figures: dict[str, Figure] = {}
        self._scorer = BoundaryScorer()

    def model(self, execution_id: str) -> Report:
        """The report model of one execution (no plots drawn, no model loaded)."""
        return build_report(local_facts(self.store_root, execution_id))

    def write(self, execution_id: str, out: Path | None = None, final: bool = True) -> Path:
        """Render and atomically write the report; returns its path.

        ``final=False`` (a rewrite while the execution runs) does not wait for a decision
        boundary still being scored in the background.
        """
        facts = local_facts(self.store_root, execution_id)
        report = build_report(facts)
        data = plot_data(self.store_root, execution_id, self._scorer, wait=final)
        drawn = figures(report, data, self._figures)
        html = render_report(report, layout_definition(facts.definition), drawn)
        path = Path(out) if out is not None else report_path(self.store_root, execution_id)
        write_bytes(path, html.encode("utf-8"))
        return path


def write_local_comparison(
    store_root: Path,
    execution_ids: list[str],
    out: Path | None = None,
    writer: ReportWriter | None = None,
) -> tuple[Comparison, Path]:
    """Compare stored local executions; returns the comparison and the page's path."""
    writer = writer or ReportWriter(store_root)
    reports = [writer.model(i) for i in execution_ids]
    data = [plot_data(writer.store_root, i) for i in execution_ids]
    comparison = compare(reports)
    html = render_comparison(comparison, comparison_figures(reports, data))
    path = Path(out) if out is not None else comparison_path(store_root, execution_ids)
    write_bytes(path, html.encode("utf-8"))
    return comparison, path


def comparison_path(store_root: Path, execution_ids: list[str]) -> Path:
    """Where a comparison page goes unless --report-out says otherwise."""
    return Path(store_root) / "comparisons" / f"{'-vs-'.join(execution_ids)}.html"[-200:]


def local_comparison(store_root: Path, execution_ids: list[str]) -> Comparison:
    """The comparison's verdict alone: records only, no plot drawn, no model loaded."""
    writer = ReportWriter(store_root)
    return compare([writer.model(i) for i in execution_ids])


def write_aws_report(sm: Any, s3: Any, execution_arn: str, out: Path) -> Path:
    """Write the report of a SageMaker execution from the Describe/List APIs and S3."""
    from pipeline.report.aws_source import aws_facts

    facts, data = aws_facts(sm, s3, execution_arn)
    report = build_report(facts)
    html = render_report(report, layout_definition(facts.definition), figures(report, data))
    write_bytes(out, html.encode("utf-8"))
    return out


def write_local_report(store_root: Path, execution_id: str, out: Path | None = None) -> Path:
    """One-shot: write the report of a stored local execution; returns its path."""
    return ReportWriter(store_root).write(execution_id, out)
