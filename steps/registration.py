"""RegisterMoonModel and CreateMoonModel: the model package and the SageMaker Model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from steps.context import BuildContext
from steps.evaluation import OUTPUT_NAME, REPORT_FILE

if TYPE_CHECKING:
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.steps import ProcessingStep, TrainingStep

REGISTER_STEP_NAME = "RegisterMoonModel"
CREATE_STEP_NAME = "CreateMoonModel"
CONTENT_TYPES = ["text/csv", "application/json", "application/x-npy"]

# The serving code travels inside model.tar.gz (train.py writes code/inference.py), so the
# plain Model below needs no entry_point and the SDK adds no _RepackModelStep.
SERVING_ENV = {
    "SAGEMAKER_PROGRAM": "inference.py",
    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
}


def build_model_steps(
    ctx: BuildContext, training_step: TrainingStep, evaluation_step: ProcessingStep
) -> tuple[ModelStep, ModelStep]:
    """Build the register and create-model steps for the trained artifact.

    Args:
        ctx: shared builder inputs.
        training_step: provides the model artifact.
        evaluation_step: provides evaluation.json, attached as the package's model quality.

    Returns:
        (RegisterMoonModel, CreateMoonModel); the second runs after the first.
    """
    from sagemaker.model import Model
    from sagemaker.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.model_step import ModelStep

    p = ctx.params
    model = Model(
        image_uri=ctx.pytorch_image("inference", ctx.cfg.instances.endpoint),
        model_data=training_step.properties.ModelArtifacts.S3ModelArtifacts,
        role=ctx.role_arn,
        env=dict(SERVING_ENV),
        sagemaker_session=ctx.session,
    )
    output = evaluation_step.properties.ProcessingOutputConfig.Outputs[OUTPUT_NAME]
    report_uri = Join(on="/", values=[output.S3Output.S3Uri, REPORT_FILE])
    metrics = ModelMetrics(
        model_statistics=MetricsSource(s3_uri=report_uri, content_type="application/json")
    )
    register = ModelStep(
        name=REGISTER_STEP_NAME,
        step_args=model.register(
            content_types=CONTENT_TYPES,
            response_types=CONTENT_TYPES,
            inference_instances=[ctx.cfg.instances.endpoint],
            transform_instances=[ctx.cfg.instances.endpoint],
            model_package_group_name=ctx.cfg.registry.model_package_group,
            approval_status=p.ModelApprovalStatus,
            model_metrics=metrics,
            description="Two-moons PyTorch classifier that passed the accuracy gate.",
        ),
        display_name="Register moon model",
        description="Registers the model package with its evaluation report.",
    )
    create = ModelStep(
        name=CREATE_STEP_NAME,
        step_args=model.create(instance_type=p.EndpointInstanceType),
        depends_on=[register],
        display_name="Create moon model",
        description="Creates the SageMaker Model the endpoint serves.",
    )
    return register, create
