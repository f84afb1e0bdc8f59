"""The comparison's pictures: ROC, precision-recall and training curves overlaid, decision
boundaries side by side, and a metric against the parameter that differs.

Every curve is named by what tells the executions apart (the parameters whose values differ
between them, not every override they share), legends sit below their axes, and the
boundaries are laid out two to a row, so the page stays legible at 800 px.
:func:`overlapping_labels` finds any two texts of a drawn figure whose boxes overlap (the
tests hold every figure to none).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pipeline.core import ranking
from pipeline.report.plots import (
    Figure,
    PlotData,
    average_precision,
    draw_boundary,
    legend_below,
    scatter,
    subplots,
    to_data_uri,
    use_agg,
)
from pipeline.report.report_model import Report

LINE_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
BOUNDARY_COLUMNS = 2
METRIC = "accuracy"
COMPARISON_PLOTS = {
    "roc": "ROC curves",
    "pr": "Precision-recall curves",
    "loss": "Training metrics per epoch",
    "boundary": "Decision boundaries (test points)",
    "metric-vs-parameter": f"{METRIC} against the parameter that differs",
}
"""Every plot of a comparison, in reading order: kind → title."""


def comparison_figures(
    reports: Sequence[Report], data: Sequence[PlotData], keep: list[Any] | None = None
) -> list[Figure]:
    """ROC (roc), precision-recall (pr), training metrics (loss), boundaries (boundary) and
    the metric against each numeric parameter that differs (metric-vs-parameter).

    ``keep``: a list the matplotlib figures are appended to, still open, instead of being
    closed (the tests measure their labels); None closes each once rendered.
    """
    use_agg()
    labels = curve_labels(reports)
    return [
        _overlay(reports, labels, "roc", keep),
        _overlay(reports, labels, "pr", keep),
        _series(reports, labels, keep),
        _boundaries(reports, data, labels, keep),
        _metric_vs_parameter(reports, keep),
    ]


def differing_parameters(reports: Sequence[Report]) -> dict[str, list[Any]]:
    """Parameter → its value per report, for the parameters whose values differ."""
    values = [{p.name: p.value for p in r.parameters} for r in reports]
    names = [p.name for p in reports[0].parameters] if reports else []
    return {
        name: [v.get(name) for v in values]
        for name in names
        if len({repr(v.get(name)) for v in values}) > 1
    }


def curve_labels(reports: Sequence[Report]) -> list[str]:
    """Each execution's name on a plot: the values that differ, else its id."""
    differing = differing_parameters(reports)
    labels = [
        ", ".join(f"{name}={values[i]}" for name, values in differing.items())
        for i in range(len(reports))
    ]
    if len(set(labels)) < len(labels) or not all(labels):
        return [
            f"{label} · {r.execution_id}" if label else r.execution_id
            for label, r in zip(labels, reports, strict=True)
        ]
    return labels


def _done(fig: Any, keep: list[Any] | None) -> str:
    if keep is not None:
        keep.append(fig)
    return to_data_uri(fig, close=keep is None)


_CURVES = {
    "roc": (
        COMPARISON_PLOTS["roc"],
        "receiver_operating_characteristic_curve",
        "false_positive_rates",
        "true_positive_rates",
        "false positive rate",
        "true positive rate",
    ),
    "pr": (
        COMPARISON_PLOTS["pr"],
        "precision_recall_curve",
        "recalls",
        "precisions",
        "recall",
        "precision",
    ),
}


def _overlay(
    reports: Sequence[Report], labels: Sequence[str], kind: str, keep: list[Any] | None
) -> Figure:
    title, _, x_key, y_key, x_label, y_label = _CURVES[kind]
    curves = [r.roc if kind == "roc" else r.precision_recall for r in reports]
    if not any(c.get(x_key) for c in curves):
        return Figure(kind, title, None, "no execution has an evaluation report")
    fig, axes = subplots(size=(5.2, 4.0))
    ax = axes[0][0]
    for curve, report, label, color in zip(curves, reports, labels, LINE_COLORS * 10, strict=False):
        if not curve.get(x_key):
            continue
        area = report.metrics.get("auc") if kind == "roc" else average_precision(curve)
        name = "AUC" if kind == "roc" else "AP"
        shown = label + (f" ({name} {area:.3f})" if area is not None else "")
        ax.plot(curve[x_key], curve[y_key], color=color, label=shown)
    if kind == "roc":
        ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    legend_below(fig, ax, ncol=1)
    return Figure(kind, title, _done(fig, keep))


def _series(reports: Sequence[Report], labels: Sequence[str], keep: list[Any] | None) -> Figure:
    title = COMPARISON_PLOTS["loss"]
    names = sorted({n for r in reports for n in r.training_series})
    if not names:
        return Figure(
            "loss", title, None, "no execution's training log matched its MetricDefinitions"
        )
    fig, axes = subplots(len(names), size=(4.2, 3.4))
    for ax, name in zip(axes[0], names, strict=True):
        for report, label, color in zip(reports, labels, LINE_COLORS * 10, strict=False):
            values = report.training_series.get(name)
            if values:
                ax.plot(range(1, len(values) + 1), values, color=color, label=label)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("epoch")
    # One legend for all the axes, under the first (the lines are the same executions).
    legend_below(fig, axes[0][0], ncol=1)
    return Figure("loss", title, _done(fig, keep))


def _boundaries(
    reports: Sequence[Report],
    data: Sequence[PlotData],
    labels: Sequence[str],
    keep: list[Any] | None,
) -> Figure:
    title = COMPARISON_PLOTS["boundary"]
    if not any(d.boundary for d in data):
        return Figure("boundary", title, None, "no execution has a trained model to score")
    import matplotlib.pyplot as plt

    columns = min(BOUNDARY_COLUMNS, len(reports))
    rows = -(-len(reports) // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(4.2 * columns, 3.7 * rows), squeeze=False, layout="constrained"
    )
    flat = [ax for row in axes for ax in row]
    for ax, label, plot in zip(flat, labels, data, strict=False):
        ax.set_title(label, fontsize=9)
        if plot.boundary is None:
            ax.set_axis_off()
            ax.text(0.5, 0.5, plot.boundary_note, ha="center", wrap=True, fontsize=8)
            continue
        draw_boundary(fig, ax, plot.boundary, colorbar=False)
        if plot.test is not None:
            scatter(ax, plot.test, "test")
    for ax in flat[len(reports) :]:
        ax.set_axis_off()
    return Figure("boundary", title, _done(fig, keep))


def _metric_vs_parameter(reports: Sequence[Report], keep: list[Any] | None) -> Figure:
    title = COMPARISON_PLOTS["metric-vs-parameter"]
    numeric = {
        name: values
        for name, values in differing_parameters(reports).items()
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    }
    scores = [r.metrics.get(METRIC) for r in reports]
    if not numeric or sum(s is not None for s in scores) < 2:
        return Figure(
            "metric-vs-parameter",
            title,
            None,
            f"it needs a numeric parameter that differs and two executions with {METRIC}",
        )
    entries = [
        ranking.Entry(score, datetime.fromisoformat(r.started_at) if r.started_at else None)
        for score, r in zip(scores, reports, strict=True)
    ]
    best = ranking.order(entries, METRIC)[0]  # the one rule --sweep and --compare use
    fig, axes = subplots(len(numeric), size=(4.2, 3.4))
    for ax, (name, values) in zip(axes[0], numeric.items(), strict=True):
        points = sorted((v, s) for v, s in zip(values, scores, strict=True) if s is not None)
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", color=LINE_COLORS[0])
        ax.plot([values[best]], [scores[best]], marker="*", markersize=14, color=LINE_COLORS[1])
        ax.annotate(
            "best", (values[best], scores[best]), textcoords="offset points", xytext=(8, -12)
        )
        ax.set_xlabel(name)
        ax.set_ylabel(METRIC)
    return Figure("metric-vs-parameter", title, _done(fig, keep))


def overlapping_labels(fig: Any) -> list[tuple[str, str]]:
    """Pairs of visible, non-empty texts of ``fig`` whose boxes overlap, as drawn."""
    from matplotlib.text import Text

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [
        (t.get_text(), t.get_window_extent(renderer))
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip()
    ]
    return [
        (a, b)
        for i, (a, box_a) in enumerate(boxes)
        for b, box_b in boxes[i + 1 :]
        if box_a.overlaps(box_b)
    ]
