"""EvaluateMoonClassifier: score the trained model on the test split."""

from __future__ import annotations

from typing import TYPE_CHECKING

from steps.context import FAILURE_FILE, BuildContext, flag_arguments

if TYPE_CHECKING:
    from sagemaker.workflow.properties import PropertyFile
    from sagemaker.workflow.steps import ProcessingStep, TrainingStep

STEP_NAME = "EvaluateMoonClassifier"
REPORT_NAME = "EvaluationReport"
REPORT_FILE = "evaluation.json"
OUTPUT_NAME = "evaluation"
MODEL_DIR = "/opt/ml/processing/model"
TEST_DIR = "/opt/ml/processing/test"
OUTPUT_DIR = "/opt/ml/processing/evaluation"


def build_evaluation_step(
    ctx: BuildContext, data_step: ProcessingStep, training_step: TrainingStep
) -> tuple[ProcessingStep, PropertyFile]:
    """Build the evaluation step: entrypoints/evaluate.py on the PyTorch *training* image.

    The training image has the same torch as serving and a Python the script runs on; the
    script loads the model through the artifact's own code/inference.py.

    Args:
        ctx: shared builder inputs.
        data_step: provides the ``test`` output.
        training_step: provides the model artifact.

    Returns:
        The ProcessingStep and its PropertyFile ``EvaluationReport`` (evaluation.json of
        output ``evaluation``), which the condition reads.
    """
    from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
    from sagemaker.workflow.properties import PropertyFile
    from sagemaker.workflow.steps import ProcessingStep

    processor = ScriptProcessor(
        image_uri=ctx.pytorch_image("training", ctx.cfg.instances.processing),
        command=["python3"],
        role=ctx.role_arn,
        instance_type=ctx.params.ProcessingInstanceType,
        instance_count=1,
        base_job_name="moonpipe-evaluate",
        sagemaker_session=ctx.session,
    )
    test_uri = data_step.properties.ProcessingOutputConfig.Outputs["test"].S3Output.S3Uri
    model_uri = training_step.properties.ModelArtifacts.S3ModelArtifacts
    step_args = processor.run(
        code=str(ctx.code_dir / "evaluate.py"),
        inputs=[
            ProcessingInput(source=model_uri, destination=MODEL_DIR, input_name="model"),
            ProcessingInput(source=test_uri, destination=TEST_DIR, input_name="test"),
        ],
        outputs=[ProcessingOutput(output_name=OUTPUT_NAME, source=OUTPUT_DIR)],
        arguments=flag_arguments(
            [
                ("--model-path", f"{MODEL_DIR}/model.tar.gz"),
                ("--test-path", f"{TEST_DIR}/test.csv"),
                ("--output-dir", OUTPUT_DIR),
                ("--failure-file", FAILURE_FILE),
            ]
        ),
    )
    report = PropertyFile(name=REPORT_NAME, output_name=OUTPUT_NAME, path=REPORT_FILE)
    step = ProcessingStep(
        name=STEP_NAME,
        step_args=step_args,
        property_files=[report],
        display_name="Evaluate moon classifier",
        description="Scores the model on the test split; writes the model-quality report.",
        cache_config=ctx.cache_config(),
    )
    return step, report
