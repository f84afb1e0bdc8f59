"""The one rule that says which execution is best by a metric: used by --sweep and --compare.

Direction: higher is better, except for losses and false-outcome rates (a metric whose name
ends in ``loss``, ``false_positive_rate`` or ``false_negative_rate``), where lower is better.
Ties: the execution that started first ranks first (then the order given), a rule about
executions, not about any one parameter, so two commands shown the same executions name
the same winner whatever order they list them in. Executions without the metric (failed,
stopped, not evaluated) rank after every one that has it, in the order given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

LOWER_IS_BETTER = ("loss", "false_positive_rate", "false_negative_rate")
_NEVER = datetime.max.replace(tzinfo=timezone.utc)


def lower_is_better(metric: str) -> bool:
    """True for losses and false-outcome rates."""
    return metric.endswith(LOWER_IS_BETTER)


@dataclass(frozen=True)
class Entry:
    """One execution as the rule sees it: its value of the metric and when it started."""

    value: float | None
    started_at: datetime | None = None


def order(entries: Sequence[Entry], metric: str) -> list[int]:
    """Indexes of ``entries``, best first (see the module docstring for the rule)."""
    sign = 1.0 if lower_is_better(metric) else -1.0
    scored = [i for i, e in enumerate(entries) if e.value is not None]
    scored.sort(key=lambda i: (sign * float(entries[i].value or 0.0), _start(entries[i]), i))
    return scored + [i for i, e in enumerate(entries) if e.value is None]


def tied_best(entries: Sequence[Entry], metric: str) -> list[int]:
    """Indexes of every entry that shares the best value (empty when none has a value)."""
    ranked = order(entries, metric)
    if not ranked or entries[ranked[0]].value is None:
        return []
    top = entries[ranked[0]].value
    return [i for i in ranked if entries[i].value == top]


def _start(entry: Entry) -> datetime:
    moment = entry.started_at
    if moment is None:
        return _NEVER
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
