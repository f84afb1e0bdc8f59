"""CheckAccuracy: deploy only a model whose test accuracy reaches the threshold."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from steps.context import BuildContext

if TYPE_CHECKING:
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.properties import PropertyFile
    from sagemaker.workflow.step_collections import StepCollection
    from sagemaker.workflow.steps import ProcessingStep, Step

STEP_NAME = "CheckAccuracy"
FAIL_STEP_NAME = "AccuracyBelowThreshold"
ACCURACY_PATH = "binary_classification_metrics.accuracy.value"


def build_condition_step(
    ctx: BuildContext,
    evaluation_step: ProcessingStep,
    report: PropertyFile,
    if_steps: Sequence[Step | StepCollection],
) -> ConditionStep:
    """Build the accuracy gate: ``if_steps`` when accuracy >= AccuracyThreshold, else fail.

    Args:
        ctx: shared builder inputs.
        evaluation_step: the step whose property file holds the accuracy.
        report: that step's EvaluationReport property file.
        if_steps: register, then the DeployOrNot gate that holds the hosting steps.

    Returns:
        The ConditionStep; its else branch is the FailStep AccuracyBelowThreshold, whose
        message names the measured accuracy and the threshold.
    """
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join, JsonGet

    threshold = ctx.params.AccuracyThreshold
    accuracy = JsonGet(
        step_name=evaluation_step.name, property_file=report, json_path=ACCURACY_PATH
    )
    fail = FailStep(
        name=FAIL_STEP_NAME,
        error_message=Join(
            on=" ",
            values=["Model accuracy", accuracy, "is below the threshold", threshold],
        ),
        display_name="Accuracy below threshold",
        description="Stops the execution: the model is not registered or deployed.",
    )
    return ConditionStep(
        name=STEP_NAME,
        # The SDK's annotation of ``left`` omits JsonGet, which its own docs compare this way.
        conditions=[ConditionGreaterThanOrEqualTo(left=cast(Any, accuracy), right=threshold)],
        if_steps=list(if_steps),
        else_steps=[fail],
        display_name="Check accuracy",
        description="Test accuracy >= AccuracyThreshold decides register-and-deploy vs fail.",
    )
