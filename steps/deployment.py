"""MoonEndpointConfig and DeployMoonEndpoint: serve the model on a real-time endpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING

from steps.context import BuildContext

if TYPE_CHECKING:
    from sagemaker.workflow.endpoint_step import EndpointConfigStep, EndpointStep
    from sagemaker.workflow.model_step import ModelStep

CONFIG_STEP_NAME = "MoonEndpointConfig"
ENDPOINT_STEP_NAME = "DeployMoonEndpoint"


def build_deployment_steps(
    ctx: BuildContext, create_model_step: ModelStep
) -> tuple[EndpointConfigStep, EndpointStep]:
    """Build the endpoint-config and endpoint steps.

    The service suffixes endpoint-config names per execution, so the endpoint step reads the
    real name from the config step's properties. The Endpoint step creates the endpoint or,
    when it exists, updates it to the new config.

    Args:
        ctx: shared builder inputs.
        create_model_step: provides the ModelName.

    Returns:
        (MoonEndpointConfig, DeployMoonEndpoint).
    """
    from sagemaker.workflow.endpoint_step import EndpointConfigStep, EndpointStep
    from sagemaker.workflow.functions import Join

    p = ctx.params
    config = EndpointConfigStep(
        name=CONFIG_STEP_NAME,
        step_args=ctx.session.create_endpoint_config(
            name=Join(on="-", values=[p.EndpointName, "config"]),
            model_name=create_model_step.properties.ModelName,
            initial_instance_count=1,
            instance_type=p.EndpointInstanceType,
        ),
        display_name="Moon endpoint config",
        description="One production variant of the new model on EndpointInstanceType.",
    )
    endpoint = EndpointStep(
        name=ENDPOINT_STEP_NAME,
        step_args=ctx.session.create_endpoint(
            endpoint_name=p.EndpointName,
            config_name=config.properties.EndpointConfigName,
        ),
        display_name="Deploy moon endpoint",
        description="Creates the endpoint EndpointName, or updates it to the new config.",
    )
    return config, endpoint
