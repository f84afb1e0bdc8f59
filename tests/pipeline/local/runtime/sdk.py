"""Pipelines the SageMaker SDK v2 builds (as AWS's examples are written), run by the engine.

Nothing here is moonpipe's own: each test writes its scripts and builds its steps with the
SDK's classes (SKLearnProcessor, PyTorchProcessor, PyTorch, PyTorchModel + ModelStep), the
definition is built offline (pipeline/assembly/offline_sdk.py) and the code the SDK uploaded
goes into the store, as --upsert does.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pipeline.core.records import ExecutionSummary, PipelineDefinition
from pipeline.local.runner import LocalRunner, open_store

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution"
BUCKET = "sdk-bucket"
REGION = "us-east-1"
INSTANCE = "ml.m5.large"


def build(
    name: str, make_steps: Callable[[Any], Sequence[Any]], parameters: Sequence[Any] = ()
) -> PipelineDefinition:
    """The definition of the pipeline ``make_steps(session)`` returns the steps of, with
    every object the SDK uploaded while building it."""
    from pipeline.assembly.offline_sdk import (
        as_boto3_default,
        import_sdk,
        make_pipeline_session,
        quiet_sdk,
    )

    import_sdk()
    from sagemaker.workflow.pipeline import Pipeline

    cfg = SimpleNamespace(aws=SimpleNamespace(region=REGION, bucket=BUCKET, prefix="sdk"))
    with quiet_sdk():
        session = make_pipeline_session(cfg)  # type: ignore[arg-type]
        with as_boto3_default(session):
            steps = list(make_steps(session))
            definition = Pipeline(
                name=name, parameters=list(parameters), steps=steps, sagemaker_session=session
            ).definition()
    return PipelineDefinition(name, f"{name}, built by the SDK", definition, session.uploads)


def run(
    store: Path,
    pipeline: PipelineDefinition,
    objects: Mapping[str, bytes] | None = None,
    job_start: str = "warm",
    notes: list[str] | None = None,
) -> tuple[ExecutionSummary, dict[str, Any]]:
    """Upsert and run ``pipeline`` in ``store`` (``objects`` put first, as data a user keeps
    in S3); the summary and each step's properties by name."""
    runner = LocalRunner(
        open_store(store, REGION), job_start=job_start, warm_idle_s=300.0, notes=notes
    )
    for uri, data in (objects or {}).items():
        runner.objects.put(uri, data)
    runner.pipelines.upsert(pipeline, ROLE)
    summary = runner.run(runner.start(pipeline.name, {}), lambda step: None)
    steps = runner.records.steps(summary.execution_id)
    return summary, {record.name: properties for record, properties in steps}


def step(summary: ExecutionSummary, name: str) -> Any:
    """The step record called ``name``."""
    return next(s for s in summary.steps if s.name == name)


def members(data: bytes) -> dict[str, bytes]:
    """The files of a tar.gz, by name."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


def tar_gz(files: Mapping[str, bytes]) -> bytes:
    """A tar.gz holding ``files``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write(folder: Path, files: Mapping[str, str]) -> Path:
    """``files`` written into ``folder``; the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder
