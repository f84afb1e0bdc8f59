"""TrainMoonClassifier: train the PyTorch classifier on the train split."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.assembly.offline_sdk import call_without_telemetry
from steps.context import BuildContext

if TYPE_CHECKING:
    from sagemaker.workflow.steps import ProcessingStep, TrainingStep

STEP_NAME = "TrainMoonClassifier"

# train.py prints `epoch=<n> train_loss=<float> train_accuracy=<float>` once per epoch.
METRIC_DEFINITIONS = [
    {"Name": "train:loss", "Regex": "train_loss=([0-9.eE+-]+)"},
    {"Name": "train:accuracy", "Regex": "train_accuracy=([0-9.eE+-]+)"},
]


def build_training_step(ctx: BuildContext, data_step: ProcessingStep) -> TrainingStep:
    """Build the training step: entrypoints/train.py in script mode on the PyTorch image.

    Debugger, profiler and their rules are off: they add jobs, S3 paths and noise to the
    definition and nothing this model needs.

    Args:
        ctx: shared builder inputs.
        data_step: the step whose ``train`` output becomes the ``train`` channel.

    Returns:
        The TrainingStep; its ModelArtifacts.S3ModelArtifacts is the model.tar.gz.
    """
    from sagemaker.inputs import TrainingInput
    from sagemaker.pytorch import PyTorch
    from sagemaker.workflow.steps import TrainingStep

    p, cfg = ctx.params, ctx.cfg
    ctx.pytorch_image("training", cfg.instances.training)  # the SDK resolves it; check first
    estimator = PyTorch(
        entry_point="train.py",
        source_dir=str(ctx.code_dir),
        framework_version=cfg.frameworks.pytorch_version,
        py_version=cfg.frameworks.python_version,
        role=ctx.role_arn,
        instance_count=1,
        instance_type=p.TrainingInstanceType,
        hyperparameters={
            "hidden_dim": p.HiddenDim,
            "epochs": p.Epochs,
            "lr": p.LearningRate,
            "batch_size": p.BatchSize,
            "seed": p.TrainSeed,
        },
        metric_definitions=METRIC_DEFINITIONS,
        output_path=f"s3://{cfg.aws.bucket}/{cfg.aws.prefix}/{cfg.pipeline.name}/models",
        base_job_name="moonpipe-train",
        disable_profiler=True,
        debugger_hook_config=False,
        sagemaker_session=ctx.session,
    )
    train_uri = data_step.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri
    inputs = {"train": TrainingInput(s3_data=train_uri, content_type="text/csv")}
    return TrainingStep(
        name=STEP_NAME,
        step_args=call_without_telemetry(estimator, "fit", inputs),
        display_name="Train moon classifier",
        description="Trains a one-hidden-layer PyTorch MLP on the train split.",
        cache_config=ctx.cache_config(),
    )
