"""What a sweep is and decides before any point runs: its grid of points, their checks, the
metric it ranks by, and which points are already done.

Every point runs the stored definition with ``Deploy=false`` and
``ModelApprovalStatus=PendingManualApproval``: it trains, evaluates and registers, but never
touches the endpoint, so parallel points cannot race for it; ``--deploy-best`` reruns the
best with :data:`PROMOTE_OVERRIDES`. The checks here are ones a person would otherwise pay
for with a whole sweep: a typo in a value, a misspelt ``--deploy-best acuracy`` (it used to
run every point and then promote nothing), a sweep run again (it used to start every point
again: cache hits locally, but minutes and money on SageMaker). Nothing here prints.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.core.errors import ConfigError
from pipeline.core.parameters import parse_assignment, resolve_parameters
from pipeline.core.quality import QUALITY_METRICS
from pipeline.core.records import ExecutionSummary
from pipeline.core.status import Status
from pipeline.local.graph import PipelineGraph
from pipeline.targets.base import PointRun, Target

POINT_OVERRIDES = {"Deploy": "false", "ModelApprovalStatus": "PendingManualApproval"}
PROMOTE_OVERRIDES = {"Deploy": "true", "ModelApprovalStatus": "Approved"}
DEFAULT_METRIC = "accuracy"
MAX_POINTS = 64
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
    values: dict[str, str]  # the swept parameters' values at this point, as given
    display_name: str
    typed: dict[str, Any] = field(default_factory=dict)  # the same values, typed (check_points)
    fixed: dict[str, str] = field(default_factory=dict)  # --param values every point shares
    execution_arn: str | None = None
    summary: ExecutionSummary | None = None
    error: str | None = None  # why it did not run or could not be followed
    reused: bool = False  # an identical execution had already succeeded (reuse_done_points)
    run: PointRun | None = field(default=None, repr=False)  # the target's handle once started

    @property
    def status(self) -> str:
        """Pending until started; then the execution's status."""
        if self.summary is not None:
            return self.summary.status
        if self.error:
            return Status.FAILED
        return Status.EXECUTING if self.execution_arn else Status.PENDING

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


def points_of(flags: Sequence[str], overrides: Mapping[str, str]) -> list[Point]:
    """The sweep's points, each with the shared ``--param`` values (ConfigError if a name is
    both swept and set, or the grid is too large)."""
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
        resolved = resolve_parameters(declared, point.parameters(POINT_OVERRIDES))
        point.typed = {name: resolved[name] for name in point.values}


def definition_metrics(graph: PipelineGraph) -> tuple[list[str], list[str]]:
    """(quality-report metrics, training-job metrics) an execution of ``graph`` will have.

    Training metrics are the MetricDefinitions of the definition's training steps (SageMaker
    applies them to the job's log); the quality metrics come with any step that writes a
    property file or registers a model with ModelMetrics (the evaluation report).
    """
    training: list[str] = []
    has_report = False
    for step in graph.steps:
        spec = step.arguments.get("AlgorithmSpecification") or {}
        training += [str(m["Name"]) for m in spec.get("MetricDefinitions") or [] if "Name" in m]
        has_report = has_report or bool(step.property_files or step.arguments.get("ModelMetrics"))
    return (list(QUALITY_METRICS) if has_report else []), sorted(set(training))


def check_metric(metric: str, graph: PipelineGraph) -> None:
    """Refuse (exit 2, before any point runs) a metric no execution of ``graph`` can have."""
    quality, training = definition_metrics(graph)
    if metric in quality or metric in training:
        return
    raise ConfigError(unknown_metric(metric, quality, training))


def unknown_metric(metric: str, quality: Sequence[str], training: Sequence[str]) -> str:
    """``--deploy-best acuracy: no such metric (did you mean accuracy?); ...``: one line."""
    close = difflib.get_close_matches(metric, [*quality, *training], n=1)
    guess = f" (did you mean {close[0]}?)" if close else ""
    where = []
    if quality:
        where.append(f"the evaluation report's {', '.join(quality)}")
    if training:
        where.append(f"the training job's {', '.join(training)}")
    known = "; ".join(where) or "none"
    return f"--deploy-best {metric}: no such metric{guess}; the points will have {known}"


def missing_metric(metric: str, points: Iterable[Point]) -> str | None:
    """After the run: why no point can be ranked by ``metric`` although some succeeded."""
    succeeded = [p.summary for p in points if p.status == Status.SUCCEEDED and p.summary]
    if not succeeded or any(s.metrics.get(metric) is not None for s in succeeded):
        return None
    have = sorted({name for summary in succeeded for name in summary.metrics})
    return f"no point has a {metric} metric; the points have: {', '.join(have) or 'no metrics'}"


def reuse_done_points(
    target: Target, pipeline_name: str, declared: Sequence[Mapping[str, Any]], points: list[Point]
) -> None:
    """Mark points whose exact execution already Succeeded on this pipeline version as reused.

    Exact means every resolved parameter value, the sweep's own Deploy=false and
    PendingManualApproval included, so a promotion (Deploy=true) or a run with another
    --param is never mistaken for a point. The reused execution's summary is set on the point,
    so the run loop treats it as done and the table lists it.
    """
    wanted = [resolve_parameters(declared, p.parameters(POINT_OVERRIDES)) for p in points]
    found = target.reusable_executions(pipeline_name, wanted)
    for point, summary in zip(points, found, strict=True):
        if summary is not None:
            point.execution_arn, point.summary, point.reused = summary.execution_arn, summary, True
