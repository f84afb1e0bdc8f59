"""A pipeline module written the way AWS's SageMaker Projects "modelbuild" template writes them
(pipelines/abalone/pipeline.py): its own sessions, ``get_pipeline(region,
sagemaker_project_arn=None, role=None, default_bucket=None, pipeline_name=...,
base_job_prefix=..., ...)`` returning a Pipeline; processing code and a training source folder
beside it, referenced by absolute paths from ``BASE_DIR``.

Its scripts are standard-library Python that take container paths as arguments or SM_*
variables (so they run on the local engine unchanged): prepare data, train (a threshold),
evaluate into a property file; a condition on the accuracy, a Fail step with a Join message.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

PACKAGE = "modelbuild"
MODULE = f"{PACKAGE}.tiny.pipeline"

PIPELINE = textwrap.dedent(
    '''
    """Tiny pipeline: the modelbuild template's shape."""
    import os

    import boto3
    import sagemaker
    import sagemaker.session
    from sagemaker.inputs import TrainingInput
    from sagemaker.processing import ProcessingInput, ProcessingOutput
    from sagemaker.sklearn.estimator import SKLearn
    from sagemaker.sklearn.processing import SKLearnProcessor
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join, JsonGet
    from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession
    from sagemaker.workflow.properties import PropertyFile
    from sagemaker.workflow.steps import CacheConfig, ProcessingStep, TrainingStep

    BASE_DIR = os.path.dirname(os.path.realpath(__file__))


    def get_session(region, default_bucket):
        boto_session = boto3.Session(region_name=region)
        sagemaker_client = boto_session.client("sagemaker")
        runtime_client = boto_session.client("sagemaker-runtime")
        return sagemaker.session.Session(
            boto_session=boto_session,
            sagemaker_client=sagemaker_client,
            sagemaker_runtime_client=runtime_client,
            default_bucket=default_bucket,
        )


    def get_pipeline_session(region, default_bucket):
        boto_session = boto3.Session(region_name=region)
        sagemaker_client = boto_session.client("sagemaker")
        return PipelineSession(
            boto_session=boto_session,
            sagemaker_client=sagemaker_client,
            default_bucket=default_bucket,
        )


    def get_pipeline(
        region,
        sagemaker_project_arn=None,
        role=None,
        default_bucket=None,
        model_package_group_name="TinyPackageGroup",
        pipeline_name="TinyPipeline",
        base_job_prefix="Tiny",
        processing_instance_type="ml.m5.xlarge",
        training_instance_type="ml.m5.xlarge",
    ):
        sagemaker_session = get_session(region, default_bucket)
        if role is None:
            role = sagemaker.session.get_execution_role(sagemaker_session)
        pipeline_session = get_pipeline_session(region, default_bucket)
        instance_type = ParameterString(
            "ProcessingInstanceType", default_value=processing_instance_type
        )
        rows = ParameterInteger("Rows", default_value=200)
        mode = ParameterString("Mode", default_value="small", enum_values=["small", "large"])
        threshold = ParameterFloat("Threshold", default_value=0.5)
        cache = CacheConfig(enable_caching=True, expire_after="30d")

        processor = SKLearnProcessor(
            framework_version="1.2-1",
            instance_type=instance_type,
            instance_count=1,
            base_job_name=f"{base_job_prefix}/sklearn-tiny-preprocess",
            sagemaker_session=pipeline_session,
            role=role,
        )
        prepare = ProcessingStep(
            "PrepareData",
            step_args=processor.run(
                outputs=[ProcessingOutput(output_name="train", source="/opt/ml/processing/train")],
                code=os.path.join(BASE_DIR, "preprocess.py"),
                arguments=["--rows", rows.to_string(), "--out", "/opt/ml/processing/train"],
            ),
            cache_config=cache,
        )
        estimator = SKLearn(
            entry_point="train.py",
            source_dir=os.path.join(BASE_DIR, "source"),
            framework_version="1.2-1",
            instance_type=training_instance_type,
            base_job_name=f"{base_job_prefix}/tiny-train",
            sagemaker_session=pipeline_session,
            role=role,
            hyperparameters={"mode": mode},
        )
        train = TrainingStep(
            "TrainModel",
            step_args=estimator.fit(
                {
                    "train": TrainingInput(
                        prepare.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri
                    )
                }
            ),
            cache_config=cache,
        )
        report = PropertyFile(
            name="EvaluationReport", output_name="evaluation", path="evaluation.json"
        )
        evaluate = ProcessingStep(
            "EvaluateModel",
            step_args=processor.run(
                inputs=[
                    ProcessingInput(
                        source=train.properties.ModelArtifacts.S3ModelArtifacts,
                        destination="/opt/ml/processing/model",
                    ),
                    ProcessingInput(
                        source=prepare.properties.ProcessingOutputConfig.Outputs[
                            "train"
                        ].S3Output.S3Uri,
                        destination="/opt/ml/processing/test",
                    ),
                ],
                outputs=[
                    ProcessingOutput(
                        output_name="evaluation", source="/opt/ml/processing/evaluation"
                    )
                ],
                code=os.path.join(BASE_DIR, "evaluate.py"),
                arguments=[
                    "--model", "/opt/ml/processing/model",
                    "--test", "/opt/ml/processing/test",
                    "--out", "/opt/ml/processing/evaluation",
                ],
            ),
            property_files=[report],
        )
        accuracy = JsonGet(step_name=evaluate.name, property_file=report, json_path="accuracy")
        too_low = FailStep(
            "AccuracyTooLow",
            error_message=Join(on=" ", values=["accuracy", accuracy, "is below", threshold]),
        )
        check = ConditionStep(
            "CheckAccuracy",
            conditions=[ConditionGreaterThanOrEqualTo(left=accuracy, right=threshold)],
            if_steps=[],
            else_steps=[too_low],
        )
        return Pipeline(
            name=pipeline_name,
            parameters=[instance_type, rows, mode, threshold],
            steps=[prepare, train, evaluate, check],
            sagemaker_session=pipeline_session,
        )
    '''
)
PREPROCESS = textwrap.dedent(
    """
    import argparse, os, random
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int)
    parser.add_argument("--out")
    args = parser.parse_args()
    rng = random.Random(0)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "train.csv"), "w") as handle:
        for _ in range(args.rows):
            x = rng.uniform(-1, 1)
            handle.write(f"{int(x > 0.1)},{x}\\n")
    """
)
TRAIN = textwrap.dedent(
    """
    import argparse, json, os
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="small")
    parser.parse_args()
    data = os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv")
    rows = [line.split(",") for line in open(data)]
    def hits(t):
        return sum((float(x) > t) == (y == "1") for y, x in rows)
    best = max((t / 20 for t in range(-20, 21)), key=hits)
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as handle:
        json.dump({"threshold": best}, handle)
    print(f"threshold={best}")
    """
)
EVALUATE = textwrap.dedent(
    """
    import argparse, json, os, tarfile
    parser = argparse.ArgumentParser()
    parser.add_argument("--model")
    parser.add_argument("--test")
    parser.add_argument("--out")
    args = parser.parse_args()
    with tarfile.open(os.path.join(args.model, "model.tar.gz")) as tar:
        tar.extractall(args.model, filter="data")
    threshold = json.load(open(os.path.join(args.model, "model.json")))["threshold"]
    rows = [line.split(",") for line in open(os.path.join(args.test, "train.csv"))]
    accuracy = sum((float(x) > threshold) == (y == "1") for y, x in rows) / len(rows)
    os.makedirs(args.out, exist_ok=True)
    json.dump({"accuracy": accuracy}, open(os.path.join(args.out, "evaluation.json"), "w"))
    """
)


def write_template_module(root: Path) -> str:
    """Write the package under ``root`` (a folder to run from); returns the module's name."""
    folder = root / PACKAGE / "tiny"
    (folder / "source").mkdir(parents=True, exist_ok=True)
    (root / PACKAGE / "__init__.py").write_text("")
    (folder / "__init__.py").write_text("")
    (folder / "pipeline.py").write_text(PIPELINE)
    (folder / "preprocess.py").write_text(PREPROCESS)
    (folder / "evaluate.py").write_text(EVALUATE)
    (folder / "source" / "train.py").write_text(TRAIN)
    return MODULE


def forget_template_module() -> None:
    """Drop the package from sys.modules after a test (each test writes its own copy under its
    own folder)."""
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]
