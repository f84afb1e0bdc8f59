"""What a person reads from a sweep: the opening line, one live line per point, then the
ranked table (or the --json document), and the line Ctrl-C ends it with.

Kept beside pipeline.console (which formats single executions) and written through its
Console, so progress goes to stderr under --json and stdout then carries one JSON document.
On a terminal the point lines are one block redrawn in place (ANSI cursor-up and clear-line:
a few escape codes, so no library); in a log, a pipe or CI each change is a line of its own.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.console import Console, execution_json, summary_lines, table_lines
from pipeline.core.records import ExecutionSummary
from pipeline.core.status import Status
from pipeline.sweep.plan import Point

if TYPE_CHECKING:
    from pipeline.report.compare import Comparison

_METRICS_SHOWN = ("accuracy", "f1", "auc", "train:loss")


class LiveLines:
    """The running sweep's point lines: redrawn in place on a terminal, else one per change."""

    def __init__(self, console: Console, points: Sequence[Point]) -> None:
        self.console, self.total = console, len(points)
        self.stream = console.err if console.json_mode else console.out
        # a block taller than the screen cannot be reached by cursor-up: one line per change
        fits = len(points) < shutil.get_terminal_size().lines
        self.in_place = fits and _is_terminal(self.stream)
        # on a terminal every point has a line from the start; elsewhere a line is a change
        self.lines = {p.index: point_line(p, self.total) for p in points if self.in_place}
        self.drawn = 0  # lines of the block already on the screen

    def show(self, point: Point) -> None:
        """The PointListener: the point's line, if it changed."""
        line = point_line(point, self.total)
        if self.lines.get(point.index) == line and (self.drawn or not self.in_place):
            return
        self.lines[point.index] = line
        if not self.in_place:
            self.console.progress(line)
            return
        width = max(20, shutil.get_terminal_size().columns - 1)  # a wrapped line breaks "up"
        up = f"\x1b[{self.drawn}A" if self.drawn else ""
        rows = [f"\r\x1b[2K{self.lines[i][:width]}" for i in sorted(self.lines)]
        self.console.write(up + "\n".join(rows), self.stream)
        self.drawn = len(rows)


def _is_terminal(stream: Any) -> bool:
    """A terminal that understands cursor movement (not a pipe, a file, or TERM=dumb)."""
    try:
        return bool(stream.isatty()) and os.environ.get("TERM", "") != "dumb"
    except (AttributeError, ValueError):
        return False


def point_line(point: Point, total: int) -> str:
    """``[2/4 HiddenDim=16] Executing  TrainMoonClassifier`` — the point as it is now."""
    head = f"[{point.index + 1}/{total} {point.label()}]"
    if point.summary is None:
        return f"{head} {point.status}" + (f"  {point.reason}" if point.reason else "")
    if point.status == Status.EXECUTING:  # the newest step: running, or the last one to end
        newest = point.summary.steps[-1].name if point.summary.steps else "starting"
        return f"{head} Executing  {newest}"
    tail = f"  {point.reason}" if point.reason else ""
    accuracy = point.metric("accuracy")
    score = "" if accuracy is None else f"  accuracy {accuracy:.4f}"
    return f"{head} {_status(point)}{score}  {point.summary.execution_id}{tail}"


def _status(point: Point) -> str:
    return f"{point.status} (reused)" if point.reused else point.status


def point_json(point: Point) -> dict[str, Any]:
    """One point for --json: its execution, parameters, status and metrics."""
    summary = point.summary
    return {
        "point": dict(point.typed or point.values),
        "display_name": point.display_name,
        "execution_id": summary.execution_id if summary else None,
        "execution_arn": point.execution_arn,
        "status": point.status,
        "reused": point.reused,
        "failure_reason": point.reason,
        "parameters": dict(summary.parameters) if summary else {},
        "metrics": dict(summary.metrics) if summary else {},
        "model_package_arn": summary.model_package_arn if summary else None,
    }


def sweep_table(ranked: Sequence[Point], metric: str) -> list[str]:
    """The ranked table: rank, point, status, the chosen metric and a few others, reason."""
    shown = [metric] + [m for m in _METRICS_SHOWN if m != metric]
    axes = list(ranked[0].values) if ranked else []
    header = ["RANK", *axes, "STATUS", *(m.upper() for m in shown), "EXECUTION", "REASON"]
    rows = []
    for rank, point in enumerate(ranked, start=1):
        values = [point.metric(m) for m in shown]
        rows.append(
            [
                str(rank) if point.status == Status.SUCCEEDED and values[0] is not None else "-",
                *(point.values[a] for a in axes),
                _status(point),
                *("" if v is None else f"{v:.4f}" for v in values),
                point.summary.execution_id if point.summary else "",
                (point.reason or "")[:60],
            ]
        )
    return table_lines(header, rows)


def sweep_result(
    console: Console,
    ranked: Sequence[Point],
    metric: str,
    comparison: tuple[Comparison, Path] | None,
    promoted: ExecutionSummary | None,
    notes: Sequence[str] = (),
    interrupted: bool = False,
) -> None:
    """The sweep's end: the table (or JSON), the comparison's verdict and page, the promotion."""
    best = ranked[0] if ranked and ranked[0].metric(metric) is not None else None
    if console.json_mode:
        console.emit_result(
            {
                "metric": metric,
                "points": [point_json(p) for p in ranked],
                "best": None if best is None else point_json(best),
                "comparison_report": None if comparison is None else str(comparison[1]),
                "deployed": None if promoted is None else execution_json(promoted, None),
                "notes": list(notes),
                "interrupted": interrupted,
            }
        )
        return
    lines = sweep_table(ranked, metric)
    lines.append(best_line(ranked, metric))
    if comparison is not None:  # its verdict says what best_line says, by execution id
        lines.append(f"comparison report: {comparison[1]}")
    lines += [f"note: {n}" for n in notes]
    lines += [f"store: {console.store}"] if console.store else []
    if promoted is not None:
        lines += ["", "deployed the best point:", *summary_lines(promoted, ())]
    elif best is not None and not interrupted:
        lines.append(
            "ship it: the same sweep with --deploy-best (its points are reused; the best "
            "is rerun with Deploy=true, its steps cache hits)"
        )
    console.write("\n".join(lines))


def best_line(ranked: Sequence[Point], metric: str) -> str:
    """What the ranking says, as it is: the best point, points tied for the best, or none.

    Ties go to the point that started first (pipeline.core.ranking), and the line says so;
    points without the metric (failed, stopped) are named."""
    scored = [p for p in ranked if p.metric(metric) is not None]
    lacking = [p for p in ranked if p.metric(metric) is None]
    none = ""
    if lacking:
        said = ", ".join(f"{p.label()} ({p.status})" for p in lacking)
        none = f"; {said} {'has' if len(lacking) == 1 else 'have'} no {metric}"
    if not scored:
        return f"no point succeeded with {metric}; nothing to promote{none}"
    best = scored[0]
    top = best.metric(metric)
    tied = [p for p in scored if p.metric(metric) == top]
    if len(tied) == 1:
        others = ", ".join(f"{p.metric(metric):.4f}" for p in scored[1:])
        against = f" against {others}" if others else ""
        return f"best by {metric}: {best.label()} ({top:.4f}){against}{none}"
    names = ", ".join(p.label() for p in tied)
    every = "all points tie" if len(tied) == len(ranked) else f"{names} tie"
    return f"{every} on {metric} ({top:.4f}); {best.label()} started first, so it ranks first{none}"


def opening_line(points: Sequence[Point], parallel: int, target_name: str) -> str:
    """``sweep of 3 points (1 already done: reused; ...), 2 at a time, on local``."""
    reused = sum(p.reused for p in points)
    done = f" ({reused} already done: reused; --rerun runs them again)" if reused else ""
    return f"sweep of {len(points)} points{done}, {parallel} at a time, on {target_name}"


def interrupted_line(points: Sequence[Point]) -> str:
    """What Ctrl-C did to the sweep, point by point, and how to go on (the error line)."""
    stopped = [p for p in points if p.status in (Status.STOPPED, Status.STOPPING)]
    waiting = [p for p in points if p.status == Status.PENDING]
    said = ", ".join(f"{p.label()}: {p.status}" for p in stopped) or "none was running"
    line = f"interrupted; the sweep stopped its running points ({said})"
    if waiting:
        line += f"; {len(waiting)} not started"
    ids = [p.summary.execution_id for p in stopped if p.summary is not None]
    resume = f"resume one with --retry {ids[0]}, or " if ids else ""
    return f"{line}; {resume}run the sweep again (points that succeeded are reused)"
