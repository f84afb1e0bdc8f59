"""The --sweep action: flags, their checks, and the hand-off to pipeline.sweep.

Kept out of pipeline.cli so that file only gains a flag group, a mode and a dispatch line.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from pipeline.console import Console
from pipeline.core.errors import ConfigError, Interrupted, MoonpipeError
from pipeline.sweep import (
    DEFAULT_METRIC,
    Point,
    check_points,
    default_parallel,
    grid,
    parse_axes,
    promote,
    ranked,
    run_sweep,
)
from pipeline.sweep_console import LiveLines, sweep_result
from pipeline.sweep_plan import check_metric, missing_metric, reuse_done_points
from pipeline.targets.base import Target

MAX_POINTS = 64


def add_sweep_flags(parser: argparse.ArgumentParser) -> None:
    """--sweep, --max-parallel, --deploy-best."""
    group = parser.add_argument_group("sweeps (one execution per point; points never deploy)")
    group.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="NAME=V1,V2",
        help="run one execution per combination of values (repeatable: the product)",
    )
    group.add_argument(
        "--max-parallel",
        type=int,
        metavar="N",
        help="points running at once (default: 2 locally, 4 on SageMaker)",
    )
    group.add_argument(
        "--deploy-best",
        nargs="?",
        const="accuracy",
        metavar="METRIC",
        help="rerun the best point (by METRIC, default accuracy) with Deploy=true, Approved",
    )
    group.add_argument(
        "--rerun",
        action="store_true",
        help="run every point again, even one whose exact execution already succeeded",
    )


def check_sweep_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """argparse errors (exit 2) for sweep flags used wrongly."""
    if not args.sweep:
        if args.max_parallel is not None or args.deploy_best is not None or args.rerun:
            parser.error("--max-parallel, --deploy-best and --rerun need --sweep NAME=V1,V2,...")
        return
    if args.max_parallel is not None and args.max_parallel < 1:
        parser.error(f"--max-parallel must be 1 or more, got {args.max_parallel}")


def run_sweep_action(
    args: argparse.Namespace, cfg: Any, target: Target, overrides: dict[str, str], console: Console
) -> int:
    """Check every point, reuse the done ones, run the rest, rank, compare, promote if asked.

    Returns 0 when every point succeeded (and the promotion, if any), else 1 (also when the
    points ran but none has the --deploy-best metric); Ctrl-C ends it with Interrupted (130).
    """
    name = cfg.pipeline.name
    points = _points(args.sweep, overrides)
    declared = target.pipeline_parameters(name)
    check_points(declared, points)  # nothing starts on a typo in a value...
    metric = args.deploy_best or DEFAULT_METRIC
    if args.deploy_best is not None:
        check_metric(metric, target.plan(name))  # type: ignore[attr-defined]  # ...or a metric
    if not args.rerun:
        reuse_done_points(target, name, declared, points)
    if hasattr(target, "warm_up") and not all(p.reused for p in points):
        target.warm_up()  # the local job host imports torch while the first points start
    parallel = args.max_parallel or default_parallel(target)
    console.progress(_opening(points, parallel, target.name))
    live = LiveLines(console, points)
    for point in points:
        if point.reused:
            live.show(point)
    try:
        run_sweep(target, name, points, parallel, live.show)
    except KeyboardInterrupt:
        _pages_of_the_stopped(target, points)
        sweep_result(console, ranked(points, metric), metric, None, None, (), interrupted=True)
        raise Interrupted(interrupted_line(points)) from None
    return _finish(args, target, name, points, metric, console)


def _pages_of_the_stopped(target: Target, points: list[Point]) -> None:
    """Points write no report while they run; after Ctrl-C they still get their pages."""
    if target.name == "local":
        from pipeline.report.background import BackgroundReports

        ids = [p.summary.execution_id for p in points if p.summary is not None and not p.reused]
        BackgroundReports(target.store_root, ids, None, [])  # type: ignore[attr-defined]


def _opening(points: list[Point], parallel: int, target_name: str) -> str:
    reused = sum(p.reused for p in points)
    done = f" ({reused} already done: reused; --rerun runs them again)" if reused else ""
    return f"sweep of {len(points)} points{done}, {parallel} at a time, on {target_name}"


def _finish(
    args: argparse.Namespace,
    target: Target,
    name: str,
    points: list[Point],
    metric: str,
    console: Console,
) -> int:
    """Rank, compare, promote the best if asked, print it all; the exit code."""
    notes: list[str] = []
    _read_metrics(target, points, notes)
    order = ranked(points, metric)
    missing = missing_metric(metric, points) if args.deploy_best is not None else None
    notes += [missing] if missing else []
    comparison = _comparison(target, points, notes)
    promoted = None
    if args.deploy_best is not None and order and order[0].metric(metric) is not None:
        console.progress(f"deploying the best point: {order[0].label()}")
        promoted = promote(target, name, order[0], console.step)
    sweep_result(console, order, metric, comparison, promoted, notes)
    if missing:
        return 1  # the points ran (a misspelt name is refused before they do), nothing shipped
    failed = any(p.status != "Succeeded" for p in points)
    return 1 if failed or (promoted is not None and promoted.status != "Succeeded") else 0


def _read_metrics(target: Target, points: list[Point], notes: list[str]) -> None:
    """On SageMaker a summary has no metrics: read each succeeded point's, to rank them."""
    read = getattr(target, "execution_metrics", None)
    for point in points:
        if read is None or point.summary is None or point.summary.status != "Succeeded":
            continue
        try:
            point.summary = replace(point.summary, metrics=read(point.summary.execution_arn))
        except MoonpipeError as err:
            notes.append(f"no metrics for {point.label()}: {err}")


def interrupted_line(points: list[Point]) -> str:
    """What Ctrl-C did to the sweep, point by point, and how to go on (the error line)."""
    stopped = [p for p in points if p.status in ("Stopped", "Stopping")]
    waiting = [p for p in points if p.status == "Pending"]
    said = ", ".join(f"{p.label()}: {p.status}" for p in stopped) or "none was running"
    line = f"interrupted; the sweep stopped its running points ({said})"
    if waiting:
        line += f"; {len(waiting)} not started"
    ids = [p.summary.execution_id for p in stopped if p.summary is not None]
    resume = f"resume one with --retry {ids[0]}, or " if ids else ""
    return f"{line}; {resume}run the sweep again (points that succeeded are reused)"


def _points(flags: list[str], overrides: dict[str, str]) -> list[Point]:
    axes = parse_axes(flags)
    clash = sorted({a.name for a in axes} & set(overrides))
    if clash:
        raise ConfigError(f"{clash[0]} is both swept and set with --param; keep one")
    points = grid(axes)
    if len(points) > MAX_POINTS:
        raise ConfigError(
            f"the sweep has {len(points)} points; at most {MAX_POINTS} per sweep, "
            "narrow the value lists"
        )
    for point in points:
        point.fixed = dict(overrides)
    return points


def _comparison(target: Target, points: list[Point], notes: list[str]) -> Any:
    """The points' verdict now; their pages and the comparison page in the background.

    Locally, drawing the plots of four points took longer than the points' own training, so
    only the verdict (records alone) is worked out here; SageMaker has no store to draw from.
    """
    ids = [p.summary.execution_id for p in points if p.summary is not None]
    if target.name != "local":
        if len(ids) >= 2:
            notes.append("no comparison report: --compare works on the local target only for now")
        return None
    from pipeline.report.background import BackgroundReports
    from pipeline.report.write import comparison_path, local_comparison

    store_root = target.store_root  # type: ignore[attr-defined]
    comparison = None
    if len(ids) >= 2:
        try:
            comparison = local_comparison(store_root, ids), comparison_path(store_root, ids)
        except MoonpipeError as err:
            notes.append(f"no comparison report: {err}")
    pages = [p.summary.execution_id for p in points if p.summary is not None and not p.reused]
    BackgroundReports(store_root, ids, comparison[1] if comparison else None, notes, pages)
    return comparison
