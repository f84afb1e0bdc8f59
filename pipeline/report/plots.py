"""The report's pictures: matplotlib (Agg) figures rendered to PNG data URIs.

A data URI keeps the page self-contained (no file beside it, no network) and a PNG of a
few hundred points stays a few tens of kilobytes, where an SVG of the same scatter would
not. Each figure that cannot be drawn says why instead of being faked.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.report.report_model import Report

DPI = 80
COLORS = ("#1f77b4", "#d62728")  # class 0, class 1


@dataclass(frozen=True)
class Boundary:
    """The model's probability of class 1 over a grid: rows are y, columns x."""

    x0: float
    x1: float
    y0: float
    y1: float
    probabilities: Sequence[Sequence[float]]


@dataclass(frozen=True)
class PlotData:
    """What the plots need beyond the report model: the data points and the boundary."""

    train: Any = None  # numpy array (n, 3): label, x, y
    test: Any = None
    boundary: Boundary | None = None
    boundary_note: str = "the trained model was not available"


@dataclass(frozen=True)
class Figure:
    """One picture: ``src`` is a data URI, or None with ``note`` saying why it is missing."""

    kind: str  # data | boundary | roc | pr | loss | confusion
    title: str
    src: str | None
    note: str = ""


PLOTS = {
    "data": "Train and test data",
    "boundary": "Decision boundary (probability of class 1)",
    "roc": "ROC curve",
    "pr": "Precision-recall curve",
    "loss": "Training metrics per epoch",
    "confusion": "Confusion matrix (actual → predicted)",
}
"""Every plot of an execution's page, in reading order: kind → title."""


def placeholders(note: str, plots: Mapping[str, str] = PLOTS) -> list[Figure]:
    """Each plot as not drawn (yet), ``note`` saying why."""
    return [Figure(kind, title, None, note) for kind, title in plots.items()]


def figures(report: Report, data: PlotData, cache: dict[str, Figure] | None = None) -> list[Figure]:
    """Every plot of one execution, in reading order.

    ``cache`` (kept by a caller that rewrites the report after every step) maps a digest
    of each figure's inputs to the figure, so a plot is drawn once per distinct input.
    """
    use_agg()
    cache = {} if cache is None else cache
    auc = report.metrics.get("auc")
    makers = [
        ((data.train, data.test), lambda: _data_figure(data)),
        (
            (data.train, data.test, data.boundary, data.boundary_note),
            lambda: _boundary_figure(data),
        ),
        (
            ("roc", report.roc, auc),
            lambda: _curve_figure(
                "roc", PLOTS["roc"], report.roc, "false_positive_rates", "true_positive_rates", auc
            ),
        ),
        (
            ("pr", report.precision_recall),
            lambda: _curve_figure(
                "pr",
                PLOTS["pr"],
                report.precision_recall,
                "recalls",
                "precisions",
                average_precision(report.precision_recall),
            ),
        ),
        (("loss", report.training_series), lambda: _series_figure(report.training_series)),
        (
            ("confusion", report.confusion_matrix),
            lambda: _confusion_figure(report.confusion_matrix),
        ),
    ]
    drawn = []
    for index, (inputs, make) in enumerate(makers):
        key = f"{index}:{_digest(inputs)}"
        if key not in cache:
            cache[key] = make()
        drawn.append(cache[key])
    return drawn


def _digest(value: Any) -> str:
    """A stable digest of plain data and numpy arrays (the inputs of one figure)."""

    def plain(v: Any) -> Any:
        if hasattr(v, "tobytes"):
            return hashlib.sha256(v.tobytes()).hexdigest() + str(getattr(v, "shape", ""))
        if isinstance(v, Mapping):
            return {str(k): plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, Boundary):
            return plain([v.x0, v.x1, v.y0, v.y1, v.probabilities])
        return v

    return hashlib.sha256(json.dumps(plain(value), default=str).encode()).hexdigest()


def use_agg() -> None:
    """Draw off-screen (there is no display, and no window must ever open)."""
    import matplotlib

    matplotlib.use("Agg", force=True)


def to_data_uri(fig: Any, close: bool = True) -> str:
    """Render a matplotlib figure as a base64 PNG data URI (and close it)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    if close:
        plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def subplots(ncols: int = 1, size: tuple[float, float] = (4.6, 3.6)) -> tuple[Any, Any]:
    """A figure with one row of ``ncols`` axes, each ``size`` inches."""
    import matplotlib.pyplot as plt

    return plt.subplots(1, ncols, figsize=(size[0] * ncols, size[1]), squeeze=False)


POINT_STYLE = {  # train: small dots; test: larger triangles outlined in black
    "train": {"marker": "o", "s": 10, "alpha": 0.55, "edgecolors": "none"},
    "test": {"marker": "^", "s": 30, "alpha": 0.95, "edgecolors": "black", "linewidths": 0.6},
}


def scatter(ax: Any, points: Any, label: str) -> None:
    """Rows ``label,x,y`` as points coloured by class, styled by split (train or test)."""
    for cls, color in enumerate(COLORS):
        chosen = points[points[:, 0] == cls]
        ax.scatter(
            chosen[:, 1], chosen[:, 2], c=color, label=f"{label} class {cls}", **POINT_STYLE[label]
        )


def _data_figure(data: PlotData) -> Figure:
    if data.train is None and data.test is None:
        return Figure(
            "data",
            PLOTS["data"],
            None,
            "the data step's CSV outputs were not found in the store",
        )
    fig, axes = subplots(2)
    for ax, points, name in ((axes[0][0], data.train, "train"), (axes[0][1], data.test, "test")):
        if points is not None:
            scatter(ax, points, name)
        ax.set_xlabel("x₁")
        ax.set_ylabel("x₂")
        ax.set_title(f"{name} ({0 if points is None else len(points)} points)")
        ax.legend(loc="upper right", fontsize=7)
    return Figure("data", PLOTS["data"], to_data_uri(fig))


def _boundary_figure(data: PlotData) -> Figure:
    title = PLOTS["boundary"]
    if data.boundary is None:
        return Figure("boundary", title, None, data.boundary_note)
    fig, axes = subplots(size=(6.0, 4.4))
    ax = axes[0][0]
    draw_boundary(fig, ax, data.boundary, colorbar=True)
    for points, name in ((data.train, "train"), (data.test, "test")):
        if points is not None:
            scatter(ax, points, name)
    legend_below(fig, ax)
    return Figure("boundary", title, to_data_uri(fig))


def draw_boundary(fig: Any, ax: Any, b: Boundary, colorbar: bool) -> None:
    """The probability grid filled, its 0.5 line drawn, both axes labelled."""
    import numpy as np

    probs = np.asarray(b.probabilities, dtype=float)
    xs, ys = np.linspace(b.x0, b.x1, probs.shape[1]), np.linspace(b.y0, b.y1, probs.shape[0])
    filled = ax.contourf(xs, ys, probs, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.55)
    ax.contour(xs, ys, probs, levels=[0.5], colors="black", linewidths=1.2)
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    if colorbar:
        fig.colorbar(filled, ax=ax, label="P(class 1)")


def legend_below(fig: Any, ax: Any, ncol: int = 4) -> None:
    """One legend under the axes, outside the data (bbox_inches="tight" keeps it in)."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(
            handles,
            labels,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.16),
            ncol=min(ncol, len(labels)),
            fontsize=8,
            frameon=False,
        )


def average_precision(curve: Mapping[str, Sequence[float]]) -> float | None:
    """The area under the precision-recall steps, as scikit-learn's average_precision_score
    computes it: the sum of (R_n - R_n-1) * P_n over the points in order of rising recall."""
    recalls, precisions = list(curve.get("recalls") or []), list(curve.get("precisions") or [])
    if len(recalls) < 2 or len(recalls) != len(precisions):
        return None
    if recalls[0] > recalls[-1]:  # scikit-learn's curve runs from recall 1 down to 0
        recalls, precisions = recalls[::-1], precisions[::-1]
    return float(sum((recalls[i] - recalls[i - 1]) * precisions[i] for i in range(1, len(recalls))))


def _curve_figure(
    kind: str,
    title: str,
    curve: Mapping[str, list[float]],
    x_key: str,
    y_key: str,
    auc: float | None,
) -> Figure:
    if not curve.get(x_key) or not curve.get(y_key):
        return Figure(kind, title, None, "the evaluation report has no such curve")
    fig, axes = subplots()
    ax = axes[0][0]
    name = "AUC" if kind == "roc" else "average precision"
    label = f"{name} {auc:.3f}" if auc is not None else None
    ax.plot(curve[x_key], curve[y_key], color=COLORS[1], label=label)
    if kind == "roc":
        ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    ax.set_xlabel(x_key.replace("_", " ").rstrip("s"))
    ax.set_ylabel(y_key.replace("_", " ").rstrip("s"))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    if label:
        ax.legend(loc="lower right")
    return Figure(kind, title, to_data_uri(fig))


def _series_figure(series: Mapping[str, list[float]]) -> Figure:
    title = PLOTS["loss"]
    if not series:
        return Figure("loss", title, None, "the training log matched no MetricDefinitions")
    fig, axes = subplots(len(series))
    for ax, (name, values) in zip(axes[0], sorted(series.items()), strict=True):
        ax.plot(range(1, len(values) + 1), values, color=COLORS[0])
        ax.set_title(name)
        ax.set_xlabel("epoch")
    return Figure("loss", title, to_data_uri(fig))


def _confusion_figure(matrix: Mapping[str, Mapping[str, int]]) -> Figure:
    title = PLOTS["confusion"]
    labels = sorted(matrix)
    if not labels:
        return Figure("confusion", title, None, "the evaluation report has no confusion matrix")
    counts = [[int(matrix[a].get(p, 0)) for p in labels] for a in labels]
    fig, axes = subplots(size=(3.6, 3.2))
    ax = axes[0][0]
    ax.imshow(counts, cmap="Blues", vmin=0)
    darkest = max(max(row) for row in counts) or 1
    for i, row in enumerate(counts):
        for j, count in enumerate(row):  # white on the dark cells, dark on the light ones
            color = "white" if count > darkest / 2 else "#1d2330"
            ax.text(j, i, str(count), ha="center", va="center", fontsize=12, color=color)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    return Figure("confusion", title, to_data_uri(fig))
