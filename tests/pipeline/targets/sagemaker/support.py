"""What the SageMaker target's tests share: the Stubber's canned answers, and the CLI run
in-process against the moto server (the definition built once per distinct config)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

import run_pipeline
from pipeline import cli as pipeline_cli
from pipeline.config import DEFAULT_CONFIG_PATH as DEFAULT_CONFIG
from pipeline.core.records import PipelineDefinition
from pipeline.targets.sagemaker.clients import AwsClients
from tests.moto_aws import client

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
PIPE = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/moonpipe"
EXEC = f"{PIPE}/execution/abc"


def step(name: str, status: str, seconds: float | None = None, **extra: Any) -> dict[str, Any]:
    """One ListPipelineExecutionSteps entry that started at T0 (and took ``seconds``)."""
    entry: dict[str, Any] = {"StepName": name, "StepStatus": status, "StartTime": T0, **extra}
    if seconds is not None:
        entry["EndTime"] = T0 + timedelta(seconds=seconds)
    return entry


def poll(stub: Stubber, status: str, steps: list[dict[str, Any]]) -> None:
    """The answers of one poll of EXEC: its status, then its steps."""
    stub.add_response(
        "describe_pipeline_execution",
        {
            "PipelineExecutionArn": EXEC,
            "PipelineExecutionStatus": status,
            "CreationTime": T0,
            "LastModifiedTime": T0 + timedelta(seconds=30),
        },
        {"PipelineExecutionArn": EXEC},
    )
    stub.add_response(
        "list_pipeline_execution_steps",
        {"PipelineExecutionSteps": steps},
        {"PipelineExecutionArn": EXEC, "SortOrder": "Ascending"},
    )


REPO = Path(__file__).resolve().parents[4]
BUCKET = "moonpipe-test-bucket"
ROLE = "arn:aws:iam::123456789012:role/Test"
SAGEMAKER = ["--target", "sagemaker", "--region", "us-east-1", "--bucket", BUCKET]
PIPELINE_ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/moonpipe"

_BUILT: dict[str, PipelineDefinition] = {}
_real_build = pipeline_cli.build_definition


def cached_build(cfg: Any) -> PipelineDefinition:
    """The real builder, once per distinct config: the SDK build costs seconds per call."""
    key = repr(cfg)
    if key not in _BUILT:
        _BUILT[key] = _real_build(cfg)
    return _BUILT[key]


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """run_pipeline.main in-process: (exit code, stdout, stderr)."""
    code = run_pipeline.main(argv, pipeline_cli.Services(build_pipeline=cached_build))
    out, err = capsys.readouterr()
    return code, out, err


def execution_count() -> int:
    """How many executions the moto server holds of pipeline moonpipe."""
    pages = client("sagemaker").list_pipeline_executions(PipelineName="moonpipe")
    return len(pages["PipelineExecutionSummaries"])


def built_definition(config: Path = DEFAULT_CONFIG) -> PipelineDefinition:
    """The SageMaker definition the CLI builds from ``config`` (cached)."""
    from pipeline.config import load_config

    overrides = {"target": "sagemaker", "bucket": BUCKET, "region": "us-east-1", "role_arn": ROLE}
    return cached_build(load_config(config, overrides, {}))


def recorded_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Every SageMaker call the CLI makes from now on: (operation, the parameters sent)."""
    sent: list[tuple[str, dict[str, Any]]] = []
    real_client = AwsClients.client

    def recording_client(self: AwsClients, service: str) -> Any:
        made = real_client(self, service)
        made.meta.events.register(
            "provide-client-params.sagemaker.*",
            lambda params, model, **_: sent.append((model.name, dict(params))),
        )
        return made

    monkeypatch.setattr(AwsClients, "client", recording_client)
    return sent
