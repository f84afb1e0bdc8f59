"""Condition and Fail steps: no job, just the expression language and the execution's fate."""

from __future__ import annotations

from typing import Any

from pipeline.local.expressions import Scope, evaluate_conditions
from pipeline.local.graph import StepSpec
from pipeline.local.handlers.base import StepContext
from pipeline.local.orchestrator import StepOutcome, cap


def run_condition(spec: StepSpec, args: dict[str, Any], ctx: StepContext) -> StepOutcome:
    """Evaluate the (already resolved) conditions; the orchestrator takes the branch.

    The ``Outcome`` property is the API's ConditionOutcome, the string "True" or "False"
    (ListPipelineExecutionSteps' ConditionStepMetadata), so ``Get Steps.C.Outcome`` gives
    text as on SageMaker; the step's metadata keeps the branch as a bool for the report.
    """
    outcome = evaluate_conditions(args.get("Conditions") or [], Scope())
    return StepOutcome(
        "Succeeded", {"Outcome": str(outcome)}, branch=outcome, metadata={"Outcome": outcome}
    )


def run_fail(spec: StepSpec, args: dict[str, Any], ctx: StepContext) -> StepOutcome:
    """End the execution Failed with the step's ErrorMessage.

    The message is kept whole up to FailStepMetadata.ErrorMessage's 3072 characters; as the
    step's and the execution's FailureReason it is capped at theirs (1024, 1300) by the
    orchestrator. A Fail step has no properties (the SDK: "the Properties object is not
    available for it").
    """
    message = cap(str(args.get("ErrorMessage") or f"{spec.name} failed the execution"), 3072)
    return StepOutcome(
        "Failed",
        failure_reason=message,
        execution_failure_reason=message,
        metadata={"ErrorMessage": message},
    )
