"""Sweeps: one execution per point of a parameter grid, compared, and the best promoted.

Every point runs the stored definition with ``Deploy=false`` and
``ModelApprovalStatus=PendingManualApproval``: it trains, evaluates and registers, but never
touches the endpoint, so four parallel points cannot race for it. ``--deploy-best`` then
reruns the best point with ``Deploy=true`` and ``Approved``; its data, training and
evaluation steps are cache hits, so promotion costs seconds, not a retraining.

The same verbs on both targets: points are StartPipelineExecution calls with a
PipelineExecutionDisplayName, followed by describing them. Locally each running point is a
worker (``pipeline.sweep_worker``, forked from the sweep); on SageMaker the service runs them.
Nothing here prints: the sweep reports changes to a callback (pipeline.sweep_console).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.core.errors import ConfigError, MoonpipeError
from pipeline.core.records import ExecutionSummary
from pipeline.overrides import parse_assignment, resolve_parameters
from pipeline.targets.base import Target

POINT_OVERRIDES = {"Deploy": "false", "ModelApprovalStatus": "PendingManualApproval"}
PROMOTE_OVERRIDES = {"Deploy": "true", "ModelApprovalStatus": "Approved"}
DEFAULT_METRIC = "accuracy"
# Measured on the 2-core machine (benchmarks/bench_sweep.py): two points at once, each job
# at one torch thread, is the most the cores take before points slow each other down.
LOCAL_PARALLEL = 2
SAGEMAKER_PARALLEL = 4
TERMINAL = ("Succeeded", "Failed", "Stopped")
LOWER_IS_BETTER = ("loss", "false_positive_rate", "false_negative_rate")
_DISPLAY_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}$")


@dataclass(frozen=True)
class Axis:
    """One ``--sweep NAME=V1,V2,...`` flag."""

    name: str
    values: tuple[str, ...]


@dataclass
class Point:
    """One point of the grid and what became of its execution."""

    index: int
    values: dict[str, str]  # the swept parameters' values at this point
    display_name: str
    fixed: dict[str, str] = field(default_factory=dict)  # --param values every point shares
    execution_arn: str | None = None
    summary: ExecutionSummary | None = None
    error: str | None = None  # why it did not run or could not be followed
    reused: bool = False  # an identical execution had already succeeded (see sweep_plan)
    worker: Any = field(default=None, repr=False)

    @property
    def status(self) -> str:
        """Pending until started; then the execution's status."""
        if self.summary is not None:
            return self.summary.status
        return "Failed" if self.error else ("Executing" if self.execution_arn else "Pending")

    @property
    def reason(self) -> str | None:
        """Why the point failed or stopped (its execution's reason, or ours)."""
        return self.error or (self.summary.failure_reason if self.summary else None)

    def metric(self, name: str) -> float | None:
        """The point's value of ``name`` (None when it has none)."""
        return None if self.summary is None else self.summary.metrics.get(name)

    def parameters(self, gate: Mapping[str, str]) -> dict[str, str]:
        """The overrides its execution starts with: shared, swept, then the gate's."""
        return {**self.fixed, **self.values, **gate}

    def label(self) -> str:
        """``HiddenDim=8 LearningRate=0.01``: how a person names the point."""
        return " ".join(f"{k}={v}" for k, v in self.values.items())


def parse_axes(flags: Sequence[str]) -> list[Axis]:
    """The --sweep flags as axes; a malformed or repeated one is a ConfigError (exit 2)."""
    axes: list[Axis] = []
    for text in flags:
        name, raw = parse_assignment(text)
        values = tuple(v.strip() for v in raw.split(","))
        if not raw.strip() or any(not v for v in values):
            raise ConfigError(
                f"--sweep {text!r}: expected NAME=V1,V2,... with no empty value, "
                "e.g. --sweep HiddenDim=8,16,32,64"
            )
        if len(set(values)) != len(values):
            raise ConfigError(f"--sweep {name}: a value is listed twice; list each once")
        if name in {a.name for a in axes}:
            raise ConfigError(f"--sweep {name} is given twice; list all its values in one flag")
        if name in POINT_OVERRIDES:
            raise ConfigError(
                f"--sweep {name}: the sweep sets {name} itself (points never deploy; "
                "--deploy-best promotes the best)"
            )
        axes.append(Axis(name, values))
    return axes


def grid(axes: Sequence[Axis]) -> list[Point]:
    """Every combination, first axis slowest; each with its display name."""
    combos = itertools.product(*(a.values for a in axes))
    points = []
    for index, combo in enumerate(combos):
        values = {a.name: v for a, v in zip(axes, combo, strict=False)}
        points.append(Point(index, values, display_name(values)))
    return points


def display_name(values: Mapping[str, str]) -> str:
    """A PipelineExecutionDisplayName saying the point (letters, digits and hyphens only)."""
    parts = ["sweep"] + [f"{k}-{v}" for k, v in values.items()]
    text = re.sub(r"[^a-zA-Z0-9]+", "-", "-".join(parts).replace(".", "p")).strip("-")
    text = re.sub(r"-+", "-", text)[:82].rstrip("-")
    return text if _DISPLAY_NAME.match(text) else "sweep-point"


def check_points(declared: Sequence[Mapping[str, Any]], points: Sequence[Point]) -> None:
    """Every point's parameters, as StartPipelineExecution would check them, before any runs."""
    names = {p["Name"] for p in declared}
    missing = sorted(set(POINT_OVERRIDES) - names)
    if missing:
        raise ConfigError(
            f"the stored pipeline has no {missing[0]} parameter, so sweep points would deploy; "
            "run --upsert first to store the current definition"
        )
    for point in points:
        resolve_parameters(declared, point.parameters(POINT_OVERRIDES))


def default_parallel(target: Target) -> int:
    """How many points run at once when --max-parallel is not given."""
    if target.name == "local":
        return max(1, min(LOCAL_PARALLEL, os.cpu_count() or 1))
    return SAGEMAKER_PARALLEL


PointListener = Callable[[Point], None]
"""Called with a point each time its status or running step changes."""


class ServiceRuns:
    """SageMaker runs the points itself: nothing to launch, done when the status is final."""

    def launch(self, point: Point) -> None:
        """Nothing to do: StartPipelineExecution already started it."""

    @staticmethod
    def exited(point: Point) -> bool | None:
        """None: there is no process of ours; the service's status alone says when."""
        return None


def run_sweep(
    target: Target,
    pipeline_name: str,
    points: Sequence[Point],
    max_parallel: int,
    on_change: PointListener,
    poll_s: float = 0.1,
) -> list[Point]:
    """Run every point, at most ``max_parallel`` at once; a failed point is a row, not the end.

    Ctrl-C (KeyboardInterrupt) stops every running point (StopPipelineExecution semantics)
    and is raised again once they are recorded Stopped.
    """
    runs = _runs_for(target)
    pending, running = [p for p in points if p.status not in TERMINAL], []  # reused: done
    try:
        while pending or running:
            while pending and len(running) < max_parallel:
                point = pending.pop(0)
                _start(target, pipeline_name, point, runs, on_change)
                if point.error is None:
                    running.append(point)
            for point in list(running):
                if _follow(target, point, runs, on_change):
                    running.remove(point)
            if running:
                time.sleep(poll_s)
    except KeyboardInterrupt:
        _stop_all(target, running, on_change)
        raise
    return list(points)


def _runs_for(target: Target) -> Any:
    if target.name == "local":
        from pipeline.sweep_worker import LocalWorkers

        return LocalWorkers(
            Path(target.store_root),  # type: ignore[attr-defined]
            target.region,
            target.job_start,  # type: ignore[attr-defined]
            target.warm_idle_s,  # type: ignore[attr-defined]
        )
    return ServiceRuns()


def _start(
    target: Target, pipeline_name: str, point: Point, runs: Any, on_change: PointListener
) -> None:
    try:
        point.execution_arn = target.start_execution(
            pipeline_name, point.parameters(POINT_OVERRIDES), point.display_name
        )
        runs.launch(point)
    except MoonpipeError as err:
        point.error = f"not started: {err}"
    on_change(point)


def _follow(target: Target, point: Point, runs: Any, on_change: PointListener) -> bool:
    """Refresh the point; True once it has ended."""
    exited = runs.exited(point)  # read before describing: the record is final by then
    try:
        summary = target.describe_execution(str(point.execution_arn))
    except MoonpipeError as err:
        point.error = f"cannot follow it: {err}"
        on_change(point)
        return True
    changed = point.summary is None or _state(point.summary) != _state(summary)
    point.summary = summary
    if summary.status in TERMINAL and exited is not False:
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


def _stop_all(target: Target, running: Sequence[Point], on_change: PointListener) -> None:
    """Stop every running point (each ends Stopped) and wait for the workers to let go."""
    for point in running:
        with contextlib.suppress(MoonpipeError):  # it may have ended on its own meanwhile
            point.summary = target.stop_execution(str(point.execution_arn))
    for point in running:
        if point.worker is not None:
            point.worker.wait()
        with contextlib.suppress(MoonpipeError):
            point.summary = target.describe_execution(str(point.execution_arn))
        on_change(point)


def ranked(points: Sequence[Point], metric: str) -> list[Point]:
    """Best first by ``metric``; ties go to the smaller model (HiddenDim), then grid order.

    Points without the metric (failed, stopped) follow, in grid order.
    """
    sign = 1.0 if metric.endswith(LOWER_IS_BETTER) else -1.0
    scored = [p for p in points if p.status == "Succeeded" and p.metric(metric) is not None]
    rest = [p for p in points if p not in scored]
    scored.sort(key=lambda p: (sign * float(p.metric(metric) or 0.0), _size(p), p.index))
    return scored + rest


def _size(point: Point) -> float:
    value = (point.summary.parameters if point.summary else {}).get("HiddenDim")
    return float(value) if isinstance(value, (int, float)) else 0.0


def promote(
    target: Target, pipeline_name: str, best: Point, on_step: Callable[[Any], None]
) -> ExecutionSummary:
    """Rerun the best point with Deploy=true and Approved; cached steps make it quick."""
    arn = target.start_execution(
        pipeline_name, best.parameters(PROMOTE_OVERRIDES), f"{best.display_name}-deploy"[:82]
    )
    return target.wait(arn, on_step)
