"""Small pipelines built with the SageMaker SDK v2 (as AWS's examples are written), for tests
of the engine's semantics, and a runner that upserts and runs them in this process.

Every script is plain Python (standard library only) and takes its container paths as
arguments or SM_* variables, so jobs start in a few milliseconds as subprocesses.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pipeline.assembly.archives import reproducible_artifact
from pipeline.assembly.offline_sdk import offline_build, quiet_sdk
from pipeline.core.records import ExecutionSummary, PipelineDefinition, StepRecord
from pipeline.local.runner import LocalRunner
from tests.pipeline.local.engine import local_runner

REGION, BUCKET = "us-east-1", "sdk-test-bucket"
ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution"
OUT = "/opt/ml/processing/out"

# A processing script: writes its arguments (resolved as the step saw them) to out/args.json;
# --sleep S waits first, --kill-unless SUFFIX SIGKILLs itself unless its job name (--job)
# ends with SUFFIX (a job the OOM killer took), --fail MESSAGE fails with that message.
STEP_SCRIPT = textwrap.dedent(
    """
    import argparse, json, os, signal, sys, time
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="/opt/ml/processing/out")
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--job", default="")
    parser.add_argument("--kill-unless", default=None)
    parser.add_argument("--fail", default=None)
    parser.add_argument("rest", nargs="*")
    args = parser.parse_args()
    time.sleep(args.sleep)
    if args.sleep:
        print("slept", args.sleep, flush=True)
    if args.kill_unless is not None and not args.job.endswith(args.kill_unless):
        os.kill(os.getpid(), signal.SIGKILL)
    if args.fail is not None:
        sys.exit(args.fail)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "args.json"), "w") as handle:
        json.dump({"argv": sys.argv[1:], "accuracy": 0.75}, handle)
    """
)
TRAIN_SCRIPT = textwrap.dedent(
    """
    import json, os
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as handle:
        json.dump({"hps": os.environ.get("SM_HPS"), "job": os.environ.get("JOB")}, handle)
    """
)


def code_dir(root: Path) -> Path:
    """The scripts' folder: step.py (processing) and src/train.py (training)."""
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "step.py").write_text(STEP_SCRIPT)
    (root / "src" / "train.py").write_text(TRAIN_SCRIPT)
    return root


def built(make: Callable[[Any], Any], name: str = "sdk-test") -> PipelineDefinition:
    """The definition of the Pipeline ``make(session)`` returns, built offline."""
    import boto3
    from sagemaker.workflow.pipeline_context import PipelineSession

    with offline_build(REGION, BUCKET) as aws, quiet_sdk():
        session = PipelineSession(
            boto_session=boto3.Session(region_name=REGION), default_bucket=BUCKET
        )
        pipeline = make(session)
        definition = pipeline.definition()
    artifacts = {uri: reproducible_artifact(uri, body) for uri, body in aws.objects.items()}
    return PipelineDefinition(pipeline.name, f"{name} (tests)", definition, artifacts)


def processor(session: Any, instance_type: Any = "ml.m5.xlarge") -> Any:
    """An SKLearnProcessor (runs ``python3 <code>``)."""
    from sagemaker.sklearn.processing import SKLearnProcessor

    return SKLearnProcessor(
        framework_version="1.2-1",
        instance_type=instance_type,
        instance_count=1,
        role=ROLE,
        sagemaker_session=session,
    )


def processing_step(
    name: str,
    session: Any,
    code: Path,
    arguments: list[Any] | None = None,
    inputs: list[Any] | None = None,
    instance_type: Any = "ml.m5.xlarge",
    **step: Any,
) -> Any:
    """A ProcessingStep running step.py with ``arguments`` (and ``--out``), one output."""
    from sagemaker.processing import ProcessingOutput
    from sagemaker.workflow.steps import ProcessingStep

    return ProcessingStep(
        name,
        step_args=processor(session, instance_type).run(
            inputs=inputs or [],
            outputs=[ProcessingOutput(output_name="out", source=OUT)],
            code=str(code / "step.py"),
            arguments=["--out", OUT, *(arguments or [])],
        ),
        **step,
    )


def training_step(name: str, session: Any, code: Path, data: Any, **step: Any) -> Any:
    """A TrainingStep (SKLearn estimator, script mode) reading channel ``train``."""
    from sagemaker.inputs import TrainingInput
    from sagemaker.sklearn.estimator import SKLearn
    from sagemaker.workflow.steps import TrainingStep

    estimator_args = step.pop("estimator", {})
    estimator = SKLearn(
        entry_point="train.py",
        source_dir=str(code / "src"),
        framework_version="1.2-1",
        instance_type=estimator_args.pop("instance_type", "ml.m5.xlarge"),
        role=ROLE,
        sagemaker_session=session,
        **estimator_args,
    )
    return TrainingStep(name, step_args=estimator.fit({"train": TrainingInput(data)}), **step)


def output_of(step: Any) -> Any:
    """A processing step's ``out`` S3 URI, as a property reference."""
    return step.properties.ProcessingOutputConfig.Outputs["out"].S3Output.S3Uri


class Runs:
    """One store: upsert SDK-built definitions, start and run executions in this process."""

    def __init__(self, store: Path, **settings: Any) -> None:
        self.runner: LocalRunner = local_runner(store, **settings)
        self.seen: list[StepRecord] = []

    def upsert(self, pipeline: PipelineDefinition) -> Any:
        """UpsertResult of storing ``pipeline``."""
        return self.runner.pipelines.upsert(pipeline, ROLE)

    def run(self, name: str, **parameters: Any) -> ExecutionSummary:
        """Start and run one execution to its end."""
        arn = self.runner.start(name, {k: str(v) for k, v in parameters.items()})
        return self.runner.run(arn, self.seen.append)

    def properties(self, summary: ExecutionSummary) -> Mapping[str, Mapping[str, Any]]:
        """Each step's stored properties."""
        return {r.name: p for r, p in self.runner.records.steps(summary.execution_id)}


def steps_of(summary: ExecutionSummary) -> dict[str, StepRecord]:
    """The summary's steps by name."""
    return {s.name: s for s in summary.steps}


def arguments_seen(properties: Mapping[str, Any]) -> Iterator[Any]:
    """The resolved ContainerArguments a processing step ran with."""
    yield from properties["AppSpecification"]["ContainerArguments"]
