"""A small pipeline built with the SageMaker SDK v2 as AWS's examples write one, for the
integrity tests and tests/faults/fault_injection.py: not moonpipe's, and it runs in a second.

``Prepare`` (SKLearnProcessor, cached) writes ``train.csv`` with ``Rows`` rows; ``Fit`` (an
SKLearn estimator with an entry point) counts them, sleeping ``NapSeconds`` first (a window
for the tests to act in) and printing what a job prints (``Banner``, escape codes and all).
Built offline through pipeline.assembly.offline_sdk, once per process.
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pipeline.core.records import PipelineDefinition

ROLE = "arn:aws:iam::000000000000:role/integrity-tests"
BUCKET = "integrity-bucket"
NAME = "moonpipe"  # the config's pipeline name: the CLI starts it

PREPARE = """
import argparse, os
p = argparse.ArgumentParser(); p.add_argument("--rows", type=int); p.add_argument("--out")
a = p.parse_args()
os.makedirs(a.out, exist_ok=True)
with open(os.path.join(a.out, "train.csv"), "w") as f:
    for i in range(a.rows):
        f.write(f"{i % 2},{i / 10:.1f},{-i / 10:.1f}\\n")
print("prepared", a.rows)
"""

FIT = """
import argparse, json, os, sys, time
p = argparse.ArgumentParser()
p.add_argument("--nap", type=float, default=0.0)
p.add_argument("--banner", default="")
a, _ = p.parse_known_args()
if a.banner:
    print(a.banner, flush=True)
time.sleep(a.nap)
rows = open(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv")).read().splitlines()
print(f"rows={len(rows)}", flush=True)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as f:
    json.dump({"rows": len(rows)}, f)
if a.banner.startswith("fail:"):
    sys.exit(a.banner)
"""


@functools.cache
def integrity_pipeline() -> PipelineDefinition:
    """The pipeline, built by the SDK (offline, no credentials)."""
    with tempfile.TemporaryDirectory(prefix="integrity-code-") as folder:
        code = Path(folder)
        (code / "prepare.py").write_text(PREPARE)
        (code / "fit").mkdir()
        (code / "fit" / "fit.py").write_text(FIT)
        definition, uploads = _build(code)
    return PipelineDefinition(NAME, "integrity tests", definition, uploads)


def _build(code: Path) -> tuple[str, dict[str, bytes]]:
    from pipeline.assembly.offline_sdk import (
        as_boto3_default,
        call_without_telemetry,
        import_sdk,
        make_pipeline_session,
        quiet_sdk,
    )

    import_sdk()
    cfg = SimpleNamespace(aws=SimpleNamespace(region="us-east-1", bucket=BUCKET, prefix="it"))
    with quiet_sdk():
        session = make_pipeline_session(cfg)  # type: ignore[arg-type]
        with as_boto3_default(session):
            definition = _definition(session, code, call_without_telemetry)
        return definition, session.uploads


def _definition(session: Any, code: Path, no_telemetry: Any) -> str:
    from sagemaker.inputs import TrainingInput
    from sagemaker.processing import ProcessingOutput
    from sagemaker.sklearn.estimator import SKLearn
    from sagemaker.sklearn.processing import SKLearnProcessor
    from sagemaker.workflow.parameters import (
        ParameterBoolean,
        ParameterFloat,
        ParameterInteger,
        ParameterString,
    )
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import CacheConfig, ProcessingStep, TrainingStep

    rows = ParameterInteger("Rows", 20)
    nap = ParameterFloat("NapSeconds", 0.0)
    banner = ParameterString("Banner", "")
    # What a sweep sets on its points (they never deploy; this pipeline has nothing to deploy)
    deploy = ParameterBoolean(name="Deploy", default_value=False)
    approval = ParameterString("ModelApprovalStatus", "PendingManualApproval")
    processor = SKLearnProcessor(
        framework_version="1.2-1",
        role=ROLE,
        instance_type="ml.m5.large",
        instance_count=1,
        sagemaker_session=session,
    )
    prepare = ProcessingStep(
        name="Prepare",
        step_args=processor.run(
            code=str(code / "prepare.py"),
            arguments=["--rows", rows.to_string(), "--out", "/opt/ml/processing/train"],
            outputs=[ProcessingOutput(output_name="train", source="/opt/ml/processing/train")],
        ),
        cache_config=CacheConfig(enable_caching=True, expire_after="P30D"),
    )
    estimator = SKLearn(
        entry_point="fit.py",
        source_dir=str(code / "fit"),
        framework_version="1.2-1",
        py_version="py3",
        role=ROLE,
        instance_type="ml.m5.large",
        instance_count=1,
        sagemaker_session=session,
        output_path=f"s3://{BUCKET}/models",
        hyperparameters={"nap": nap, "banner": banner},
    )
    train_uri = prepare.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri
    fit = TrainingStep(
        name="Fit",
        step_args=no_telemetry(estimator, "fit", {"train": TrainingInput(s3_data=train_uri)}),
    )
    return str(
        Pipeline(
            name=NAME,
            parameters=[rows, nap, banner, deploy, approval],
            steps=[prepare, fit],
            sagemaker_session=session,
        ).definition()
    )


def with_steps_named(pipeline: PipelineDefinition, names: dict[str, str]) -> PipelineDefinition:
    """The pipeline with steps renamed (``{"Prepare": "P" * 250}``), references too."""
    text = pipeline.definition
    for old, new in names.items():
        text = text.replace(f'"{old}"', f'"{new}"').replace(f"Steps.{old}.", f"Steps.{new}.")
    json.loads(text)
    return PipelineDefinition(pipeline.name, pipeline.description, text, pipeline.artifacts)
