"""Executions side by side: which parameters differ, which metrics are best, and why.

Built from report models only, so it compares whatever the reports hold. "Best" is
pipeline.core.ranking's rule, the one --sweep ranks by: the highest value for a score and
the lowest for a loss or a false-outcome rate; ties mark every tied execution, the one that
started first named first (so the verdict names the winner the sweep's "best by" names).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline.core.ranking import Entry, tied_best
from pipeline.report.report_model import Report


@dataclass(frozen=True)
class Comparison:
    """Executions in the order given, with what differs and what is best."""

    execution_ids: tuple[str, ...]
    statuses: tuple[str, ...]
    differing: dict[str, list[Any]]  # parameter → value per execution
    metrics: dict[str, list[float | None]]  # metric → value per execution
    best: dict[str, list[int]]  # metric → indexes of the best execution(s)
    verdict: str

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "executions": list(self.execution_ids),
            "statuses": list(self.statuses),
            "parameters_that_differ": self.differing,
            "metrics": self.metrics,
            "best": {k: [self.execution_ids[i] for i in v] for k, v in self.best.items()},
            "verdict": self.verdict,
        }


def compare(reports: Sequence[Report]) -> Comparison:
    """Compare two or more execution reports."""
    ids = tuple(r.execution_id for r in reports)
    values = [{p.name: p.value for p in r.parameters} for r in reports]
    names = sorted({name for v in values for name in v})
    differing = {
        n: [v.get(n) for v in values] for n in names if len({repr(v.get(n)) for v in values}) > 1
    }
    metrics = {
        name: [r.metrics.get(name, r.training_final.get(name)) for r in reports]
        for name in _metric_names(reports)
    }
    started = [_started(r) for r in reports]
    best = {name: _best(name, row, started) for name, row in metrics.items()}
    return Comparison(
        ids,
        tuple(r.status for r in reports),
        differing,
        metrics,
        {k: v for k, v in best.items() if v},
        _verdict(ids, differing, metrics, best),
    )


def _metric_names(reports: Sequence[Report]) -> list[str]:
    names: list[str] = []
    for report in reports:
        for name in [*report.metrics, *report.training_final]:
            if name not in names:
                names.append(name)
    return names


def _started(report: Report) -> datetime | None:
    return datetime.fromisoformat(report.started_at) if report.started_at else None


def _best(
    metric: str, row: Sequence[float | None], started: Sequence[datetime | None]
) -> list[int]:
    """The best executions by ``metric`` (the one that started first first); none when
    fewer than two have it or all have the same value: nothing to mark."""
    present = [v for v in row if v is not None]
    if len(present) < 2 or len(set(present)) == 1:
        return []
    entries = [Entry(v, s) for v, s in zip(row, started, strict=True)]
    return tied_best(entries, metric)


def _verdict(
    ids: Sequence[str],
    differing: dict[str, list[Any]],
    metrics: dict[str, list[float | None]],
    best: dict[str, list[int]],
) -> str:
    """One sentence: the best execution by accuracy (else the first metric), and its setting."""
    key = "accuracy" if "accuracy" in metrics else next(iter(metrics), None)
    if key is None:
        return "no execution has metrics to compare (did evaluation run?)"
    winners = best[key]
    if not winners:
        return f"no difference in {key} between these executions"
    win = winners[0]
    others = ", ".join(f"{v:.4f}" for i, v in enumerate(metrics[key]) if i != win and v is not None)
    setting = ", ".join(f"{n}={vals[win]}" for n, vals in differing.items())
    because = f" with {setting}" if setting else ""
    return f"{ids[win]} is best by {key}: {metrics[key][win]:.4f} against {others}{because}"
