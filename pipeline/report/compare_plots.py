"""The comparison's pictures: ROC and training curves overlaid, decision boundaries side by side."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.report.plots import (
    Figure,
    PlotData,
    scatter,
    subplots,
    to_data_uri,
    use_agg,
)
from pipeline.report.report_model import Report

LINE_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def comparison_figures(reports: Sequence[Report], data: Sequence[PlotData]) -> list[Figure]:
    """ROC (roc), training metrics (loss) and boundaries (boundary) of every execution."""
    use_agg()
    return [_roc(reports), _series(reports), _boundaries(reports, data)]


def _label(report: Report) -> str:
    changed = ", ".join(f"{k}={v}" for k, v in report.overridden().items())
    return f"{report.execution_id}" + (f" ({changed})" if changed else "")


def _roc(reports: Sequence[Report]) -> Figure:
    drawn = [r for r in reports if r.roc.get("false_positive_rates")]
    if not drawn:
        return Figure("roc", "ROC curves", None, "no execution has an evaluation report")
    fig, axes = subplots(size=(5.6, 4.4))
    ax = axes[0][0]
    for report, color in zip(drawn, LINE_COLORS * 10, strict=False):
        auc = report.metrics.get("auc")
        ax.plot(
            report.roc["false_positive_rates"],
            report.roc["true_positive_rates"],
            color=color,
            label=_label(report) + (f" AUC {auc:.3f}" if auc else ""),
        )
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(loc="lower right", fontsize=7)
    return Figure("roc", "ROC curves", to_data_uri(fig))


def _series(reports: Sequence[Report]) -> Figure:
    names = sorted({n for r in reports for n in r.training_series})
    if not names:
        return Figure(
            "loss",
            "Training metrics per epoch",
            None,
            "no execution's training log matched its MetricDefinitions",
        )
    fig, axes = subplots(len(names))
    for ax, name in zip(axes[0], names, strict=True):
        for report, color in zip(reports, LINE_COLORS * 10, strict=False):
            values = report.training_series.get(name)
            if values:
                ax.plot(range(1, len(values) + 1), values, color=color, label=_label(report))
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
    return Figure("loss", "Training metrics per epoch", to_data_uri(fig))


def _boundaries(reports: Sequence[Report], data: Sequence[PlotData]) -> Figure:
    title = "Decision boundaries"
    if not any(d.boundary for d in data):
        return Figure("boundary", title, None, "no execution has a trained model to score")
    import numpy as np

    fig, axes = subplots(len(reports), size=(4.4, 3.8))
    for ax, report, plot in zip(axes[0], reports, data, strict=True):
        ax.set_title(_label(report), fontsize=8)
        if plot.boundary is None:
            ax.text(0.5, 0.5, plot.boundary_note, ha="center", wrap=True, fontsize=8)
            continue
        b = plot.boundary
        probs = np.asarray(b.probabilities, dtype=float)
        xs = np.linspace(b.x0, b.x1, probs.shape[1])
        ys = np.linspace(b.y0, b.y1, probs.shape[0])
        ax.contourf(xs, ys, probs, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
        ax.contour(xs, ys, probs, levels=[0.5], colors="black", linewidths=1.2)
        if plot.test is not None:
            scatter(ax, plot.test, "^", "test")
    return Figure("boundary", title, to_data_uri(fig))
