"""The --sweep action: flags, their checks, and the hand-off to pipeline.sweep.

Kept out of pipeline.cli so that file only gains a flag group, a mode and a dispatch line.
"""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.console import Console
from pipeline.errors import ConfigError, MoonpipeError
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
from pipeline.sweep_console import point_line, sweep_result
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


def check_sweep_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """argparse errors (exit 2) for sweep flags used wrongly."""
    if not args.sweep:
        if args.max_parallel is not None or args.deploy_best is not None:
            parser.error("--max-parallel and --deploy-best need --sweep NAME=V1,V2,...")
        return
    if args.max_parallel is not None and args.max_parallel < 1:
        parser.error(f"--max-parallel must be 1 or more, got {args.max_parallel}")


def run_sweep_action(
    args: argparse.Namespace, cfg: Any, target: Target, overrides: dict[str, str], console: Console
) -> int:
    """Check every point, run them, rank them, compare them, and promote the best if asked.

    Returns 0 when every point succeeded (and the promotion, if any), else 1.
    """
    name = cfg.pipeline.name
    points = _points(args.sweep, overrides)
    check_points(target.pipeline_parameters(name), points)  # nothing starts on a typo
    if hasattr(target, "warm_up"):
        target.warm_up()  # the local job host imports torch while the first points start
    parallel = args.max_parallel or default_parallel(target)
    console.progress(f"sweep of {len(points)} points, {parallel} at a time, on {target.name}")
    last: dict[int, str] = {}

    def on_change(point: Point) -> None:
        line = point_line(point, len(points))
        if last.get(point.index) != line:
            last[point.index] = line
            console.progress(line)

    try:
        run_sweep(target, name, points, parallel, on_change)
    except KeyboardInterrupt:  # the stopped points still get their pages
        if target.name == "local":
            from pipeline.report.background import BackgroundReports

            ids = [p.summary.execution_id for p in points if p.summary is not None]
            BackgroundReports(target.store_root, ids, None, [])  # type: ignore[attr-defined]
        raise
    metric = args.deploy_best or DEFAULT_METRIC
    order = ranked(points, metric)
    notes: list[str] = []
    comparison = _comparison(target, points, notes)
    promoted = None
    if args.deploy_best is not None and order and order[0].metric(metric) is not None:
        console.progress(f"deploying the best point: {order[0].label()}")
        promoted = promote(target, name, order[0], console.step)
    sweep_result(console, order, metric, comparison, promoted, notes)
    failed = any(p.status != "Succeeded" for p in points)
    return 1 if failed or (promoted is not None and promoted.status != "Succeeded") else 0


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
    BackgroundReports(store_root, ids, comparison[1] if comparison else None, notes)
    return comparison
