"""PrepareMoonData: generate the two-moons data and split it into train and test."""

from __future__ import annotations

from typing import TYPE_CHECKING

from steps.context import FAILURE_FILE, BuildContext, flag_arguments

if TYPE_CHECKING:
    from sagemaker.workflow.steps import ProcessingStep

STEP_NAME = "PrepareMoonData"
TRAIN_DIR = "/opt/ml/processing/train"
TEST_DIR = "/opt/ml/processing/test"


def build_data_step(ctx: BuildContext) -> ProcessingStep:
    """Build the processing step that runs entrypoints/preprocess.py on the scikit-learn image.

    Every setting is a pipeline parameter and every container path is passed explicitly, so
    the local engine can map the paths and an execution can change the data without a
    rebuild.

    Args:
        ctx: shared builder inputs.

    Returns:
        The ProcessingStep, with outputs ``train`` and ``test``.
    """
    from sagemaker.processing import ProcessingOutput
    from sagemaker.sklearn.processing import SKLearnProcessor
    from sagemaker.workflow.steps import ProcessingStep

    p = ctx.params
    ctx.sklearn_image(ctx.cfg.instances.processing)  # a region without it: one clear line
    processor = SKLearnProcessor(
        framework_version=ctx.cfg.frameworks.sklearn_version,
        role=ctx.role_arn,
        instance_type=p.ProcessingInstanceType,
        instance_count=1,
        base_job_name="moonpipe-data",
        sagemaker_session=ctx.session,
    )
    step_args = processor.run(
        code=str(ctx.code_dir / "preprocess.py"),
        arguments=flag_arguments(
            [
                ("--num-points", p.NumPoints.to_string()),
                ("--noise", p.Noise.to_string()),
                ("--test-size", p.TestSize.to_string()),
                ("--seed", p.DataSeed.to_string()),
                ("--split-seed", p.SplitSeed.to_string()),
                ("--train-dir", TRAIN_DIR),
                ("--test-dir", TEST_DIR),
                ("--failure-file", FAILURE_FILE),
            ]
        ),
        outputs=[
            ProcessingOutput(output_name="train", source=TRAIN_DIR),
            ProcessingOutput(output_name="test", source=TEST_DIR),
        ],
    )
    return ProcessingStep(
        name=STEP_NAME,
        step_args=step_args,
        display_name="Prepare moon data",
        description="Generates the noisy two-moons data set and splits it into train and test.",
        cache_config=ctx.cache_config(),
    )
