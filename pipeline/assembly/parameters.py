"""The pipeline's typed parameters, with defaults from the configuration.

Everything a person may want to change per execution without rebuilding is a parameter:
model size and training settings, the accuracy gate, data generation, instance types,
approval status and endpoint name. Their names are a cross-team contract (the local engine,
the CLI's ``--param`` and the tests use them).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from pipeline.assembly.offline_sdk import import_sdk

if TYPE_CHECKING:
    from sagemaker.workflow.parameters import (
        Parameter,
        ParameterFloat,
        ParameterInteger,
        ParameterString,
    )

    from pipeline.config import PipelineConfig


@dataclass(frozen=True)
class PipelineParameters:
    """One attribute per pipeline parameter; the attribute is the parameter's name."""

    ProcessingInstanceType: ParameterString
    TrainingInstanceType: ParameterString
    EndpointInstanceType: ParameterString
    NumPoints: ParameterInteger
    Noise: ParameterFloat
    TestSize: ParameterFloat
    DataSeed: ParameterInteger
    SplitSeed: ParameterInteger
    HiddenDim: ParameterInteger
    Epochs: ParameterInteger
    LearningRate: ParameterFloat
    BatchSize: ParameterInteger
    TrainSeed: ParameterInteger
    AccuracyThreshold: ParameterFloat
    ModelApprovalStatus: ParameterString
    EndpointName: ParameterString
    # False keeps an execution away from the endpoint (sweep points): it stops after
    # registration. True (the default) deploys as every --start always did.
    Deploy: Parameter  # the SDK's ParameterBoolean is a functools.partial of Parameter

    def all(self) -> list[Any]:
        """Every parameter, in declaration order (the order the definition lists them)."""
        return [getattr(self, f.name) for f in fields(self)]


def declare_parameters(cfg: PipelineConfig) -> PipelineParameters:
    """Declare every pipeline parameter with its default taken from ``cfg``.

    Args:
        cfg: the validated configuration.

    Returns:
        The parameters, ready to be wired into steps and listed on the Pipeline.
    """
    import_sdk()
    from sagemaker.workflow.parameters import (
        ParameterBoolean,
        ParameterFloat,
        ParameterInteger,
        ParameterString,
    )

    data, training = cfg.data, cfg.training
    return PipelineParameters(
        ProcessingInstanceType=ParameterString("ProcessingInstanceType", cfg.instances.processing),
        TrainingInstanceType=ParameterString("TrainingInstanceType", cfg.instances.training),
        EndpointInstanceType=ParameterString("EndpointInstanceType", cfg.instances.endpoint),
        NumPoints=ParameterInteger("NumPoints", data.num_points),
        Noise=ParameterFloat("Noise", data.noise),
        TestSize=ParameterFloat("TestSize", data.test_size),
        DataSeed=ParameterInteger("DataSeed", data.seed),
        SplitSeed=ParameterInteger("SplitSeed", data.split_seed),
        HiddenDim=ParameterInteger("HiddenDim", training.hidden_dim),
        Epochs=ParameterInteger("Epochs", training.epochs),
        LearningRate=ParameterFloat("LearningRate", training.learning_rate),
        BatchSize=ParameterInteger("BatchSize", training.batch_size),
        TrainSeed=ParameterInteger("TrainSeed", training.seed),
        AccuracyThreshold=ParameterFloat("AccuracyThreshold", cfg.evaluation.accuracy_threshold),
        ModelApprovalStatus=ParameterString("ModelApprovalStatus", cfg.registry.approval_status),
        EndpointName=ParameterString("EndpointName", cfg.endpoint.name),
        Deploy=ParameterBoolean(name="Deploy", default_value=True),
    )
