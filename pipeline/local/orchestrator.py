"""Walk a checked plan: resolve each step's arguments, run it, record it, stop on failure.

The orchestrator knows no job types. It is handed an ``execute`` callable (the handler map
plus caching, assembled by the runner) and only decides *whether* and *when* a step runs:
steps in the untaken branch of a Condition, and steps downstream of those, are skipped;
the first failed step ends the execution and nothing downstream starts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pipeline.core.names import utc_now
from pipeline.core.records import StepListener, StepRecord
from pipeline.local.expressions import Scope, UnresolvedReference, resolve
from pipeline.local.graph import PipelineGraph, StepSpec, upstream


@dataclass(frozen=True)
class StepOutcome:
    """What running one step produced.

    ``branch`` is set by a Condition (True = IfSteps). ``execution_failure_reason``, when
    set on a failure, becomes the execution's reason verbatim (a Fail step's message).
    """

    status: str  # Succeeded | Failed
    properties: Mapping[str, Any] = field(default_factory=dict)
    failure_reason: str | None = None
    execution_failure_reason: str | None = None
    branch: bool | None = None
    cache_hit: bool = False
    log_path: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunResult:
    """How an execution ended."""

    status: str  # Succeeded | Failed
    failure_reason: str | None = None
    properties: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


Executor = Callable[[StepSpec, dict[str, Any], Scope], StepOutcome]


def run_plan(
    plan: PipelineGraph,
    scope: Scope,
    execute: Executor,
    on_step: StepListener,
    preset: Mapping[str, Mapping[str, Any]] | None = None,
    selected: frozenset[str] | None = None,
) -> RunResult:
    """Run every step that its gates allow, in plan order; stop at the first failure.

    ``preset`` steps are not run: their properties (and a Condition's ``Outcome``) come from
    an earlier run (a retry's succeeded steps, or a selective execution's source). With
    ``selected``, any other step does not run either (SelectiveExecutionConfig).
    """
    properties: dict[str, Mapping[str, Any]] = dict(scope.steps)
    branches: dict[str, bool] = {}
    skipped: set[str] = set()
    for spec in plan.steps:
        if preset is not None and spec.name in preset:
            properties[spec.name] = preset[spec.name]
            if "Outcome" in preset[spec.name] and spec.step_type == "Condition":
                branches[spec.name] = bool(preset[spec.name]["Outcome"])
            continue
        if (selected is not None and spec.name not in selected) or _is_skipped(
            spec, branches, skipped
        ):
            skipped.add(spec.name)
            continue
        outcome = _run_one(spec, replace(scope, steps=properties), execute, on_step)
        if outcome.status != "Succeeded":
            reason = outcome.execution_failure_reason or (
                f"step {spec.name} failed: {outcome.failure_reason}"
            )
            return RunResult("Failed", reason, properties)
        properties[spec.name] = outcome.properties
        if outcome.branch is not None:
            branches[spec.name] = outcome.branch
    return RunResult("Succeeded", None, properties)


def _is_skipped(spec: StepSpec, branches: Mapping[str, bool], skipped: set[str]) -> bool:
    if any(branches.get(g.condition) is not g.branch for g in spec.gates):
        return True
    return bool(upstream(spec) & skipped)


def _run_one(spec: StepSpec, scope: Scope, execute: Executor, on_step: StepListener) -> StepOutcome:
    started = utc_now()
    on_step(StepRecord(spec.name, spec.step_type, "Executing", started_at=started))
    try:
        args = resolve(dict(spec.arguments), scope)
        outcome = execute(spec, args, scope)
    except UnresolvedReference as err:
        outcome = StepOutcome("Failed", failure_reason=str(err))
    except Exception as err:  # a handler bug must still end as a recorded failure
        outcome = StepOutcome("Failed", failure_reason=f"{type(err).__name__}: {err}")
    on_step(
        StepRecord(
            spec.name,
            spec.step_type,
            outcome.status,
            started_at=started,
            ended_at=utc_now(),
            cache_hit=outcome.cache_hit,
            failure_reason=outcome.failure_reason,
            log_path=outcome.log_path,
            metadata=outcome.metadata,
        )
    )
    return outcome
