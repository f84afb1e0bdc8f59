"""Running a sweep's points, ranking them, comparing them and promoting the best.

The same verbs on every target: a point is a StartPipelineExecution with a
PipelineExecutionDisplayName, handed to the target's :meth:`~Target.point_runs` (locally a
worker of its own; on SageMaker the service runs it, nothing to launch), then followed by
describing it. Ranking is pipeline.core.ranking's rule, the one --compare's verdict uses.
Nothing here prints: changes go to a callback (pipeline.sweep.console shows them).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.core import ranking
from pipeline.core.errors import MoonpipeError
from pipeline.core.records import ExecutionSummary, StepListener
from pipeline.core.status import ENDED, Status
from pipeline.sweep.plan import POINT_OVERRIDES, PROMOTE_OVERRIDES, Point
from pipeline.targets.base import PointRuns, Target

if TYPE_CHECKING:  # the report loads once a sweep compares its points, not before
    from pipeline.report.compare import Comparison

PointListener = Callable[[Point], None]
"""Called with a point each time its status or running step changes."""


def run_sweep(
    target: Target,
    pipeline_name: str,
    points: Sequence[Point],
    max_parallel: int,
    on_change: PointListener,
    poll_s: float = 0.1,
    runs: PointRuns | None = None,
) -> list[Point]:
    """Run every point, at most ``max_parallel`` at once; a failed point is a row, not the end.

    Ctrl-C (KeyboardInterrupt) stops every point this sweep started, at whatever moment it
    comes (StopPipelineExecution semantics), and is raised again once they are recorded
    Stopped. ``runs``: how points are run (default: the target's ``point_runs()``; the UI's
    server asks for fresh interpreters).
    """
    runs = runs or target.point_runs()
    pending = [p for p in points if p.status not in ENDED]  # a reused point is done
    running: list[Point] = []
    started: list[Point] = []
    try:
        while pending or running:
            while pending and len(running) < max_parallel:
                point = pending.pop(0)
                started.append(point)  # before its start: Ctrl-C may come in the middle
                _start(target, pipeline_name, point, runs, on_change)
                if point.error is None:
                    running.append(point)
            for point in list(running):
                if _follow(target, point, on_change):
                    running.remove(point)
            if running:
                time.sleep(poll_s)
    except KeyboardInterrupt:
        _stop_all(target, [p for p in started if p.execution_arn], on_change)
        raise
    return list(points)


def _start(
    target: Target, pipeline_name: str, point: Point, runs: PointRuns, on_change: PointListener
) -> None:
    try:
        point.execution_arn = target.start_execution(
            pipeline_name, point.parameters(POINT_OVERRIDES), point.display_name
        )
        point.run = runs.launch(point.execution_arn)
    except MoonpipeError as err:
        point.error = f"not started: {err}"
    on_change(point)


def _follow(target: Target, point: Point, on_change: PointListener) -> bool:
    """Refresh the point; True once it has ended."""
    exited = point.run.exited() if point.run else True  # read first: the record is final then
    try:
        summary = target.describe_execution(str(point.execution_arn))
    except MoonpipeError as err:
        point.error = f"cannot follow it: {err}"
        on_change(point)
        return True
    changed = point.summary is None or _state(point.summary) != _state(summary)
    point.summary = summary
    if summary.status in ENDED and exited is not False:
        done = True
    elif exited:
        point.error = "its worker ended before the execution did (see the store's sweeps/ log)"
        done = changed = True
    else:
        done = False
    if changed:
        on_change(point)
    return done


def _state(summary: ExecutionSummary) -> tuple[str, ...]:
    return (summary.status, *tuple(f"{s.name}:{s.status}" for s in summary.steps))


def _stop_all(target: Target, started: Sequence[Point], on_change: PointListener) -> None:
    """Stop every started point (each ends Stopped) and wait for its run to let go.

    Another Ctrl-C meanwhile does not cut this short: a point left running would run on
    unseen, so the stopping goes on to the last point.
    """
    for point in started:
        _despite_ctrl_c(functools.partial(_stop_one, target, point))
    for point in started:
        _despite_ctrl_c(functools.partial(_settle_one, target, point, on_change))


def _stop_one(target: Target, point: Point) -> None:
    with contextlib.suppress(MoonpipeError):  # it may have ended on its own meanwhile
        point.summary = target.stop_execution(str(point.execution_arn))


def _settle_one(target: Target, point: Point, on_change: PointListener) -> None:
    if point.run is not None:
        point.run.wait()
    with contextlib.suppress(MoonpipeError):
        point.summary = target.describe_execution(str(point.execution_arn))
    on_change(point)


def _despite_ctrl_c(call: Callable[[], None]) -> None:
    """Run ``call`` to its end, starting it again after each Ctrl-C (stops are idempotent)."""
    while True:
        try:
            call()
            return
        except KeyboardInterrupt:
            continue


def ranked(points: Sequence[Point], metric: str) -> list[Point]:
    """Best first by ``metric`` (pipeline.core.ranking: ties to the point whose execution
    started first); points that did not succeed or lack the metric follow, in grid order."""
    entries = [
        ranking.Entry(
            p.metric(metric) if p.status == Status.SUCCEEDED else None,
            p.summary.started_at if p.summary else None,
        )
        for p in points
    ]
    return [points[i] for i in ranking.order(entries, metric)]


def read_metrics(target: Target, points: Sequence[Point], notes: list[str]) -> None:
    """Each succeeded point's metrics, as the target reads them (SageMaker's summaries carry
    none: its evaluation report and training job are read, to rank them)."""
    for point in points:
        if point.summary is None or point.summary.status != Status.SUCCEEDED:
            continue
        try:
            metrics = target.execution_metrics(point.summary.execution_arn)
        except MoonpipeError as err:
            notes.append(f"no metrics for {point.label()}: {err}")
            continue
        point.summary = replace(point.summary, metrics=metrics)


def compare_points(
    target: Target, points: Sequence[Point], notes: list[str]
) -> tuple[Comparison, Path] | None:
    """The points' verdict now, and the comparison page of the records (its plots said to
    be on their way), so the path printed is there; the points' pages and the comparison's
    plots are drawn by the target off the command's path (locally, drawing four points'
    plots took longer than the points' own training). None when there is nothing to
    compare."""
    from pipeline.report.write import write_comparison

    ids = [p.summary.execution_id for p in points if p.summary is not None]
    comparison = None
    if len(ids) >= 2:
        try:
            comparison = write_comparison(target, ids, plots=False)
        except MoonpipeError as err:
            notes.append(f"no comparison report: {err}")
    pages = [p.summary.execution_id for p in points if p.summary is not None and not p.reused]
    notes += _new_notes(target, lambda: target.draw_pages_later(ids, _path(comparison), pages))
    return comparison


def draw_pages_of_the_stopped(target: Target, points: Sequence[Point]) -> None:
    """Points write no page while they run; after Ctrl-C they still get theirs."""
    pages = [p.summary.execution_id for p in points if p.summary is not None and not p.reused]
    target.draw_pages_later(pages, None, pages)


def promote(
    target: Target, pipeline_name: str, best: Point, on_step: StepListener
) -> ExecutionSummary:
    """Rerun the best point with Deploy=true and Approved; cached steps make it quick."""
    arn = target.start_execution(
        pipeline_name, best.parameters(PROMOTE_OVERRIDES), f"{best.display_name}-deploy"[:82]
    )
    return target.wait(arn, on_step)


def _path(comparison: tuple[Comparison, Path] | None) -> Path | None:
    return None if comparison is None else comparison[1]


def _new_notes(target: Target, call: Callable[[], None]) -> list[str]:
    """The notes ``call`` adds to the target's (its other notes are not the sweep's)."""
    before = len(target.notes)
    call()
    return target.notes[before:]
