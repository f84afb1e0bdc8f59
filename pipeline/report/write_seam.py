"""TEMP until engine-runner merge: PLAN-16's report seam, so the front can call it today.

engine-runner's pipeline/report/write.py provides these three names with these signatures
(``ReportWriter(target).write``, ``write_comparison``, ``comparison_of``); at the merge this
file goes and its importers (pipeline/report/actions.py, pipeline/sweep/run.py) import them
from pipeline.report.write instead. It uses only the Target Protocol's verbs
(execution_facts, execution_data, report_path, comparison_path).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.core.records import ExecutionData
from pipeline.local.store.atomic import write_bytes
from pipeline.report.compare import Comparison, compare
from pipeline.report.report_model import Report, build_report
from pipeline.targets.base import Target

BOUNDARY_FILE = "report-boundary.json"


class ReportWriter:
    """Writes executions' pages from what their target says of them, caching figures."""

    def __init__(self, target: Target) -> None:
        from pipeline.report.boundary import BoundaryScorer

        self.target = target
        self._figures: dict[str, Any] = {}
        self._scorer = BoundaryScorer()

    def model(self, execution_id: str) -> Report:
        """The report model of one execution (no plots drawn, no model loaded)."""
        return build_report(self.target.execution_facts(execution_id))

    def plot_data(self, execution_id: str, wait: bool = True) -> Any:
        """The points and, where the target has the model here, its decision boundary."""
        from pipeline.report.boundary import BoundaryError, BoundaryPending
        from pipeline.report.local_source import _extent
        from pipeline.report.plots import PlotData

        data: ExecutionData = self.target.execution_data(execution_id)
        if data.model_file is None or data.model_artifact is None or data.keep_dir is None:
            return PlotData(data.train, data.test, None, data.note)
        bounds = _extent([p for p in (data.train, data.test) if p is not None])
        try:
            boundary = self._scorer.boundary(
                data.keep_dir / BOUNDARY_FILE, data.model_file, data.model_artifact, bounds, wait
            )
        except BoundaryPending:
            return PlotData(data.train, data.test, None, "the model is still being scored")
        except BoundaryError as err:
            return PlotData(data.train, data.test, None, str(err))
        return PlotData(data.train, data.test, boundary)

    def write(self, execution_id: str, out: Path | None = None, final: bool = True) -> Path:
        """Render and atomically write the page; returns its path."""
        from pipeline.report.graph import layout_definition
        from pipeline.report.plots import figures
        from pipeline.report.render import render_report

        facts = self.target.execution_facts(execution_id)
        report = build_report(facts)
        drawn = figures(report, self.plot_data(execution_id, wait=final), self._figures)
        html = render_report(report, layout_definition(facts.definition), drawn)
        path = Path(out) if out is not None else self.target.report_path(execution_id)
        write_bytes(path, html.encode("utf-8"))
        return path


def write_comparison(
    target: Target,
    execution_ids: Sequence[str],
    out: Path | None = None,
    writer: ReportWriter | None = None,
) -> tuple[Comparison, Path]:
    """Compare executions; returns the comparison and the page's path."""
    from pipeline.report.compare_plots import comparison_figures
    from pipeline.report.render import render_comparison

    writer = writer or ReportWriter(target)
    reports = [writer.model(i) for i in execution_ids]
    data = [writer.plot_data(i) for i in execution_ids]
    comparison = compare(reports)
    html = render_comparison(comparison, comparison_figures(reports, data))
    path = Path(out) if out is not None else target.comparison_path(execution_ids)
    write_bytes(path, html.encode("utf-8"))
    return comparison, path


def comparison_of(target: Target, execution_ids: Sequence[str]) -> Comparison:
    """The comparison alone: records only, no plot drawn, no model loaded."""
    return compare([build_report(target.execution_facts(i)) for i in execution_ids])
