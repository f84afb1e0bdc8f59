"""What a sweep decides before any point runs: which metric it ranks by, which points are done.

Both are checks a person would otherwise pay for with a whole sweep: a misspelt
``--deploy-best acuracy`` used to run every point and then promote nothing, and a sweep run
again (say, to add ``--deploy-best``) used to start every point again — cache hits locally,
but minutes and money on SageMaker. Nothing here prints; pipeline.sweep_cli says what happened.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pipeline.core.errors import ConfigError
from pipeline.overrides import resolve_parameters
from pipeline.sweep import POINT_OVERRIDES, Point
from pipeline.targets.base import Target

# The scalar metrics of SageMaker's binary-classification model-quality report, as
# entrypoints/evaluate.py writes them (tests/pipeline/test_sweep_plan.py keeps the two equal).
QUALITY_METRICS = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "auc",
    "true_positive_rate",
    "true_negative_rate",
    "false_positive_rate",
    "false_negative_rate",
)


def definition_metrics(plan: Any) -> tuple[list[str], list[str]]:
    """(quality-report metrics, training-job metrics) an execution of ``plan`` will have.

    Training metrics are the MetricDefinitions of the definition's training steps (SageMaker
    applies them to the job's log); the quality metrics come with any step that writes a
    property file or registers a model with ModelMetrics (the evaluation report).
    """
    training: list[str] = []
    has_report = False
    for step in plan.steps:
        spec = step.arguments.get("AlgorithmSpecification") or {}
        training += [str(m["Name"]) for m in spec.get("MetricDefinitions") or [] if "Name" in m]
        has_report = has_report or bool(step.property_files or step.arguments.get("ModelMetrics"))
    return (list(QUALITY_METRICS) if has_report else []), sorted(set(training))


def check_metric(metric: str, plan: Any) -> None:
    """Refuse (exit 2, before any point runs) a metric no execution of ``plan`` can have."""
    quality, training = definition_metrics(plan)
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
    succeeded = [p for p in points if p.status == "Succeeded" and p.summary is not None]
    if not succeeded or any(p.metric(metric) is not None for p in succeeded):
        return None
    have = sorted({name for p in succeeded for name in p.summary.metrics})  # type: ignore[union-attr]
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
    found = target.reusable_executions(pipeline_name, wanted)  # type: ignore[attr-defined]
    for point, summary in zip(points, found, strict=True):
        if summary is not None:
            point.execution_arn, point.summary, point.reused = summary.execution_arn, summary, True
