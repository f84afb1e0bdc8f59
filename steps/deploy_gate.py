"""DeployOrNot: a second gate after registration, on the Boolean parameter Deploy.

SageMaker conditions have no And, so "accuracy is good enough AND this execution may deploy"
is two ConditionSteps. The second sits *after* RegisterMoonModel inside CheckAccuracy's if
branch: a sweep point (Deploy=false) still registers its model (for comparison and later
approval) but never touches the endpoint. Studio draws it as its own node between the
registration and the hosting steps, so the graph says why hosting did not run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from steps.context import BuildContext

if TYPE_CHECKING:
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.step_collections import StepCollection
    from sagemaker.workflow.steps import Step

STEP_NAME = "DeployOrNot"


def build_deploy_gate(
    ctx: BuildContext,
    register_step: Step | StepCollection,
    hosting_steps: Sequence[Step | StepCollection],
) -> ConditionStep:
    """Build the gate: ``hosting_steps`` run only when the parameter Deploy is true.

    Args:
        ctx: shared builder inputs.
        register_step: the registration the gate follows (an explicit DependsOn edge).
        hosting_steps: create model -> endpoint config -> endpoint.

    Returns:
        The ConditionStep; its else branch is empty (a point that does not deploy succeeds).
    """
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionEquals

    return ConditionStep(
        name=STEP_NAME,
        depends_on=[register_step],
        conditions=[ConditionEquals(left=ctx.params.Deploy, right=True)],
        if_steps=list(hosting_steps),
        else_steps=[],
        display_name="Deploy or not",
        description="Deploy=true serves the registered model; false stops after registration.",
    )
