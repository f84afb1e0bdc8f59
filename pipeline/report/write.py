"""Write an execution's report: the target's facts → model → layout + plots → one HTML file.

The writer talks to a target through four verbs of the Target protocol only
(execution_facts, execution_data, report_path, comparison_path), so the same code writes the
page of a local execution and of a SageMaker one. :class:`ReportWriter` is what a local run
keeps while it runs: it rewrites the page after every step (so a report of a running
execution is never stale for long) and draws each plot only once per distinct input. The
decision boundary is scored from ``ExecutionData.model_file`` (pipeline.report.boundary, a
subprocess that loads the model the safe way) and its grid kept in ``keep_dir``.

A page can be written without its plots (``plots=False``: the records alone, in a fraction
of a second, each picture saying it is being drawn), so the CLI prints a report's path only
once a page with the final status is there, and the plots follow in the background. Writes
of the target's own page take a lock on its folder, and a page of a running execution is
not written once the execution has ended, so a slower rewrite never puts "Executing" back
over the final page.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pipeline.core.status import is_active
from pipeline.local.store.atomic import write_bytes
from pipeline.report.boundary import BoundaryError, BoundaryPending, BoundaryScorer
from pipeline.report.compare import Comparison, compare
from pipeline.report.compare_plots import COMPARISON_PLOTS, comparison_figures
from pipeline.report.graph import layout_definition
from pipeline.report.plots import Figure, PlotData, figures, placeholders
from pipeline.report.render import render_comparison, render_report
from pipeline.report.report_model import Report, build_report
from pipeline.targets.base import Target

MAX_REPORT_BYTES = 2_000_000
PLOTS_LATER = "it is being drawn in the background; reload this page in a few seconds"
BOUNDARY_FILE = "report-boundary.json"  # in ExecutionData.keep_dir


class ReportWriter:
    """Writes the reports of one target's executions, caching drawn figures."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._figures: dict[str, Figure] = {}
        self._scorer = BoundaryScorer()
        self._scratch: tempfile.TemporaryDirectory[str] | None = None

    def model(self, execution_id: str) -> Report:
        """The report model of one execution (no plots drawn, no model loaded)."""
        return build_report(self.target.execution_facts(execution_id))

    def write(
        self, execution_id: str, out: Path | None = None, final: bool = True, plots: bool = True
    ) -> Path:
        """Render and atomically write the report; returns its path.

        ``final=False`` (a rewrite while the execution runs) does not wait for a decision
        boundary still being scored in the background, and is dropped if the execution has
        ended meanwhile. ``plots=False``: the records only (see the module docstring).
        """
        facts = self.target.execution_facts(execution_id)
        report = build_report(facts)
        if plots:
            drawn = figures(report, self.plot_data(execution_id, wait=final), self._figures)
        else:
            drawn = placeholders(PLOTS_LATER)
        html = render_report(report, layout_definition(facts.definition), drawn)
        path = Path(out) if out is not None else self.target.report_path(execution_id)
        with _page_lock(path):
            if final or is_active(self.target.describe_execution(execution_id).status):
                write_bytes(path, html.encode("utf-8"))
        return path

    def plot_data(self, execution_id: str, wait: bool = True) -> PlotData:
        """The data points and, once a model exists, its decision boundary (``wait=False``:
        a boundary still being scored is left out for this rewrite)."""
        data = self.target.execution_data(execution_id)
        train, test = data.train, data.test
        if data.model_file is None:
            return PlotData(train, test, None, data.note) if data.note else PlotData(train, test)
        keep = data.keep_dir if data.keep_dir is not None else self._scratch_dir()
        bounds = _extent([p for p in (train, test) if p is not None])
        model_uri = data.model_artifact or str(data.model_file)
        try:
            boundary = self._scorer.boundary(
                keep / BOUNDARY_FILE, data.model_file, model_uri, bounds, wait
            )
        except BoundaryPending:
            return PlotData(train, test, None, "the model is still being scored")
        except BoundaryError as err:
            return PlotData(train, test, None, str(err))
        return PlotData(train, test, boundary)

    def _scratch_dir(self) -> Path:
        """Where a grid is kept for this writer's life when the target keeps none."""
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="moonpipe-report-")
        return Path(self._scratch.name)


def write_comparison(
    target: Target,
    execution_ids: Sequence[str],
    out: Path | None = None,
    writer: ReportWriter | None = None,
    plots: bool = True,
) -> tuple[Comparison, Path]:
    """Compare executions; returns the comparison and the page's path (``plots=False``:
    the tables now, each picture saying it is being drawn)."""
    writer = writer or ReportWriter(target)
    reports = [writer.model(i) for i in execution_ids]
    comparison = compare(reports)
    if plots:
        drawn = comparison_figures(reports, [writer.plot_data(i) for i in execution_ids])
    else:
        drawn = placeholders(PLOTS_LATER, COMPARISON_PLOTS)
    html = render_comparison(comparison, drawn)
    path = Path(out) if out is not None else target.comparison_path(execution_ids)
    write_bytes(path, html.encode("utf-8"))
    return comparison, path


@contextlib.contextmanager
def _page_lock(page: Path) -> Iterator[None]:
    """Hold an exclusive lock on the page's folder (the execution's own, for its page)."""
    page.parent.mkdir(parents=True, exist_ok=True)
    folder = os.open(page.parent, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        yield
    finally:
        os.close(folder)  # closing the last descriptor lets the lock go


def comparison_of(target: Target, execution_ids: Sequence[str]) -> Comparison:
    """The comparison's verdict alone: records only, no plot drawn, no model loaded."""
    writer = ReportWriter(target)
    return compare([writer.model(i) for i in execution_ids])


def _extent(arrays: list[Any]) -> tuple[float, float, float, float]:
    if not arrays:
        return (-1.5, 2.5, -1.0, 1.5)
    import numpy as np

    points = np.concatenate(arrays)
    (x0, y0), (x1, y1) = points[:, 1:3].min(axis=0), points[:, 1:3].max(axis=0)
    return (float(x0) - 0.5, float(x1) + 0.5, float(y0) - 0.5, float(y1) + 0.5)
