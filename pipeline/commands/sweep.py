"""--sweep: one execution per point of a grid, ranked, compared, the best promoted if asked.

Puts pipeline/sweep's rooms together: the plan (points, their checks, the metric, the
points already done), the run (the points through the target's verbs), the console (the
live lines, the table). Every check happens before any point starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.commands.base import Command
from pipeline.commands.front import Front
from pipeline.config import check_own_parameters
from pipeline.console import Console
from pipeline.core.errors import Interrupted
from pipeline.core.parameters import param_overrides
from pipeline.core.status import Status
from pipeline.sweep.console import LiveLines, interrupted_line, opening_line, sweep_result
from pipeline.sweep.plan import (
    DEFAULT_METRIC,
    Point,
    check_metric,
    check_points,
    missing_metric,
    points_of,
    reuse_done_points,
)
from pipeline.sweep.run import (
    compare_points,
    draw_pages_of_the_stopped,
    promote,
    ranked,
    read_metrics,
    run_sweep,
)
from pipeline.targets.base import Target


@dataclass(frozen=True)
class Sweep:
    """--sweep NAME=V1,V2 ... with its --param, --max-parallel, --deploy-best, --rerun."""

    axes: tuple[str, ...]  # NAME=V1,V2,..., as given
    params: tuple[str, ...] = ()  # NAME=VALUE every point shares
    max_parallel: int | None = None  # None: the target's default
    deploy_best: str | None = None  # the metric to promote the best point by; None: no promotion
    rerun: bool = False  # run points whose exact execution already succeeded again


def sweep(request: Sweep, front: Front) -> int:
    """Check every point, reuse the done ones, run the rest, rank, compare, promote if asked.

    Returns 0 when every point succeeded (and the promotion, if any), else 1 (also when the
    points ran but none has the --deploy-best metric); Ctrl-C ends it with Interrupted (130).
    """
    overrides = param_overrides(request.params)
    points = points_of(request.axes, overrides)
    for point in points:  # moonpipe's documented ranges, before anything starts
        check_own_parameters(point.parameters({}))
    name, target, console = front.config().pipeline.name, front.target(), front.console
    declared = target.pipeline_parameters(name)
    check_points(declared, points)  # nothing starts on a typo in a value...
    metric = request.deploy_best or DEFAULT_METRIC
    if request.deploy_best is not None:
        check_metric(metric, target.pipeline_graph(name))  # ...or in the metric
    if not request.rerun:
        reuse_done_points(target, name, declared, points)
    if not all(p.reused for p in points):
        target.warm_up()  # the local job host imports torch while the first points start
    parallel = request.max_parallel or target.default_parallel
    console.progress(opening_line(points, parallel, target.name))
    live = LiveLines(console, points)
    for point in points:
        if point.reused:
            live.show(point)
    try:
        run_sweep(target, name, points, parallel, live.show)
    except KeyboardInterrupt:
        draw_pages_of_the_stopped(target, points)
        sweep_result(console, ranked(points, metric), metric, None, None, (), interrupted=True)
        raise Interrupted(interrupted_line(points)) from None
    return _finish(request, target, name, points, metric, console)


def _finish(
    request: Sweep, target: Target, name: str, points: list[Point], metric: str, console: Console
) -> int:
    """Rank, compare, promote the best if asked, print it all; the exit code."""
    notes: list[str] = []
    read_metrics(target, points, notes)
    order = ranked(points, metric)
    missing = missing_metric(metric, points) if request.deploy_best is not None else None
    notes += [missing] if missing else []
    comparison = compare_points(target, points, notes)
    promoted = None
    if request.deploy_best is not None and order and order[0].metric(metric) is not None:
        console.progress(f"deploying the best point: {order[0].label()}")
        promoted = promote(target, name, order[0], console.step)
    sweep_result(console, order, metric, comparison, promoted, notes)
    if missing:
        return 1  # the points ran (a misspelt name is refused before they do), nothing shipped
    failed = any(p.status != Status.SUCCEEDED for p in points)
    return 1 if failed or (promoted is not None and promoted.status != Status.SUCCEEDED) else 0


COMMANDS = (
    Command(
        Sweep,
        sweep,
        "--sweep NAME=V1,V2 [--sweep ...] [--param NAME=VALUE ...] [--max-parallel N]\n"
        "                  [--deploy-best [METRIC]] [--rerun]",
    ),
)
