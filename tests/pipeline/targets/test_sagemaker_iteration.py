"""The iteration loop on SageMaker: the exact requests a sweep, a selective start and a
retry send (moto server where moto has the API; botocore's Stubber where it has not:
RetryPipelineExecution and SelectiveExecutionConfig are not run by moto)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.stub import Stubber

from pipeline.targets.sagemaker import SageMakerTarget
from tests.pipeline.targets.test_sagemaker import EXEC, PIPE, ROLE, SAGEMAKER, cli, client


def test_selective_start_sends_the_selection_and_its_source(
    target: SageMakerTarget, sm: Stubber
) -> None:
    sm.add_response(
        "start_pipeline_execution",
        {"PipelineExecutionArn": EXEC},
        {
            "PipelineName": "moonpipe",
            "PipelineParameters": [{"Name": "Deploy", "Value": "false"}],
            "SelectiveExecutionConfig": {
                "SourcePipelineExecutionArn": f"{PIPE}/execution/src",
                "SelectedSteps": [{"StepName": "EvaluateMoonClassifier"}],
            },
        },
    )
    arn = target.start_execution(
        "moonpipe",
        {"Deploy": False},
        selected_steps=["EvaluateMoonClassifier"],
        source_execution=f"{PIPE}/execution/src",
    )
    assert arn == EXEC


def test_selective_start_defaults_to_the_newest_ended_execution(
    target: SageMakerTarget, sm: Stubber
) -> None:
    rows = [
        {"PipelineExecutionArn": f"{PIPE}/execution/{i}", "PipelineExecutionStatus": s}
        for i, s in (("new", "Executing"), ("mid", "Failed"), ("old", "Succeeded"))
    ]
    sm.add_response(
        "list_pipeline_executions",
        {"PipelineExecutionSummaries": rows},
        {"PipelineName": "moonpipe", "SortBy": "CreationTime", "SortOrder": "Descending"},
    )
    sm.add_response(
        "start_pipeline_execution",
        {"PipelineExecutionArn": EXEC},
        {
            "PipelineName": "moonpipe",
            "PipelineParameters": [],
            "SelectiveExecutionConfig": {
                "SourcePipelineExecutionArn": f"{PIPE}/execution/mid",
                "SelectedSteps": [{"StepName": "A"}, {"StepName": "B"}],
            },
        },
    )
    assert target.start_execution("moonpipe", {}, selected_steps=["A", "B"]) == EXEC


def test_retry_sends_retry_pipeline_execution_for_the_same_arn(
    target: SageMakerTarget, sm: Stubber
) -> None:
    sm.add_response(
        "retry_pipeline_execution",
        {"PipelineExecutionArn": EXEC},
        {"PipelineExecutionArn": EXEC},  # botocore adds the idempotency token after the stub
    )
    assert target.retry_execution(EXEC) == EXEC


def test_retry_of_a_succeeded_execution_is_the_services_one_line_error(
    target: SageMakerTarget, sm: Stubber
) -> None:
    sm.add_client_error(
        "retry_pipeline_execution",
        "ValidationException",
        "Pipeline execution is not in a retryable state",
        400,
    )
    with pytest.raises(Exception) as caught:
        target.retry_execution(EXEC)
    assert "Pipeline execution is not in a retryable state" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_sweep_against_moto_starts_one_named_gated_execution_per_point(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli([*SAGEMAKER, "--role-arn", ROLE, "--upsert"], capsys)[0] == 0
    code, out, err = cli([*SAGEMAKER, "--sweep", "HiddenDim=8,16", "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert [p["status"] for p in doc["points"]] == ["Succeeded", "Succeeded"]
    service = client("sagemaker")
    sent: dict[str, Any] = {}
    for point in doc["points"]:
        arn = point["execution_arn"]
        params = service.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
        described = service.describe_pipeline_execution(PipelineExecutionArn=arn)
        sent[described["PipelineExecutionDisplayName"]] = {
            p["Name"]: p["Value"] for p in params["PipelineParameters"]
        }
    gate = {"Deploy": "false", "ModelApprovalStatus": "PendingManualApproval"}
    assert sent == {
        "sweep-HiddenDim-8": {"HiddenDim": "8", **gate},
        "sweep-HiddenDim-16": {"HiddenDim": "16", **gate},
    }
    assert any("comparison report" in n or "local target" in n for n in doc["notes"])
