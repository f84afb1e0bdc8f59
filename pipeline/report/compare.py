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
        _verdict(ids, tuple(r.status for r in reports), differing, metrics, started),
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
    statuses: Sequence[str],
    differing: dict[str, list[Any]],
    metrics: dict[str, list[float | None]],
    started: Sequence[datetime | None],
) -> str:
    """One sentence that says what is true: the best execution by accuracy (else the first
    metric) and its setting; a tie worded as a tie; executions without the metric (failed,
    stopped, not evaluated) named as such, never counted as "no difference"."""
    key = "accuracy" if "accuracy" in metrics else next(iter(metrics), None)
    if key is None:
        return "no execution has metrics to compare (did evaluation run?)"
    row = metrics[key]
    have = [i for i, v in enumerate(row) if v is not None]
    lacking = [i for i, v in enumerate(row) if v is None]
    none = _without(key, ids, statuses, lacking)
    if len(have) == 1:
        return f"only {ids[have[0]]} has {key} ({_value(row[have[0]])}){none}; nothing to compare"
    entries = [Entry(v, s) for v, s in zip(row, started, strict=True)]
    best = tied_best(entries, key)
    top = _value(row[best[0]])
    if len(best) == len(have):
        return f"{_names(ids, best)} tie on {key} ({top}){none}"
    others = ", ".join(_value(row[i]) for i in have if i not in best)
    if len(best) > 1:
        first = ids[best[0]]
        return (
            f"{_names(ids, best)} tie for the best {key} ({top}) against {others}; "
            f"{first} started first, so it ranks first{none}"
        )
    win = best[0]
    setting = ", ".join(f"{n}={vals[win]}" for n, vals in differing.items())
    because = f" with {setting}" if setting else ""
    return f"{ids[win]} is best by {key}: {top} against {others}{because}{none}"


def _without(key: str, ids: Sequence[str], statuses: Sequence[str], lacking: list[int]) -> str:
    """``; b has no accuracy (Failed)``: the executions left out of the comparison, and why."""
    if not lacking:
        return ""
    said = ", ".join(f"{ids[i]} ({statuses[i]})" for i in lacking)
    verb = "has" if len(lacking) == 1 else "have"
    return f"; {said} {verb} no {key}"


def _names(ids: Sequence[str], indexes: Sequence[int]) -> str:
    names = [ids[i] for i in indexes]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _value(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"
