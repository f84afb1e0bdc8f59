"""Condition and Fail steps: no job, just the expression language and the execution's fate."""

from __future__ import annotations

from typing import Any

from pipeline.local.expressions import Scope, evaluate_conditions
from pipeline.local.graph import StepSpec
from pipeline.local.handlers.base import StepContext
from pipeline.local.orchestrator import StepOutcome


def run_condition(spec: StepSpec, args: dict[str, Any], ctx: StepContext) -> StepOutcome:
    """Evaluate the (already resolved) conditions; the orchestrator takes the branch."""
    outcome = evaluate_conditions(args.get("Conditions") or [], Scope())
    return StepOutcome(
        "Succeeded", {"Outcome": outcome}, branch=outcome, metadata={"Outcome": outcome}
    )


def run_fail(spec: StepSpec, args: dict[str, Any], ctx: StepContext) -> StepOutcome:
    """End the execution Failed with the step's ErrorMessage."""
    message = str(args.get("ErrorMessage") or f"{spec.name} failed the execution")
    return StepOutcome(
        "Failed",
        {"ErrorMessage": message},
        failure_reason=message,
        execution_failure_reason=message,
    )
