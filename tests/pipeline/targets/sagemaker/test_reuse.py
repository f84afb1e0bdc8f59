"""The iteration loop on SageMaker: the exact requests a sweep, a selective start and a
retry send (moto server where moto has the API; botocore's Stubber where it has not:
RetryPipelineExecution and SelectiveExecutionConfig are not run by moto)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.stub import Stubber

from pipeline.core.records import Selection
from pipeline.targets.sagemaker import SageMakerTarget
from pipeline.targets.sagemaker.clients import AwsClients
from tests.pipeline.targets.sagemaker.test_target import EXEC, PIPE, ROLE, SAGEMAKER, cli, client


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
        selection=Selection(("EvaluateMoonClassifier",), f"{PIPE}/execution/src"),
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
    assert target.start_execution("moonpipe", {}, selection=Selection(("A", "B"))) == EXEC


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


def _recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
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


def test_selective_start_against_moto_sends_the_selection_and_the_newest_source(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """moto accepts SelectiveExecutionConfig (it neither checks nor keeps it), so the request
    is checked as the real server received it; RetryPipelineExecution is not implemented by
    moto 5.2.5 (NotImplementedError), so retry stays Stubber-tested above."""
    assert cli([*SAGEMAKER, "--role-arn", ROLE, "--upsert", "--start"], capsys)[0] == 0
    [source] = client("sagemaker").list_pipeline_executions(PipelineName="moonpipe")[
        "PipelineExecutionSummaries"
    ]
    sent = _recorded(monkeypatch)
    code, _, err = cli([*SAGEMAKER, "--start", "--from-step", "EvaluateMoonClassifier"], capsys)
    assert code == 0, err
    [start] = [params for name, params in sent if name == "StartPipelineExecution"]
    selection = start["SelectiveExecutionConfig"]
    assert selection["SourcePipelineExecutionArn"] == source["PipelineExecutionArn"]
    steps = [s["StepName"] for s in selection["SelectedSteps"]]
    assert steps[0] == "EvaluateMoonClassifier" and "PrepareMoonData" not in steps
    assert "TrainMoonClassifier" not in steps and "CheckAccuracy" in steps
    assert start["PipelineParameters"] == []


def test_a_sweep_run_again_on_sagemaker_starts_only_the_points_not_done(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli([*SAGEMAKER, "--role-arn", ROLE, "--upsert"], capsys)[0] == 0
    assert cli([*SAGEMAKER, "--sweep", "HiddenDim=8,16"], capsys)[0] == 0
    sent = _recorded(monkeypatch)
    code, out, err = cli([*SAGEMAKER, "--sweep", "HiddenDim=8,16,32", "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert {p["point"]["HiddenDim"]: p["reused"] for p in doc["points"]} == {
        "8": True, "16": True, "32": False,
    }  # fmt: skip
    starts = [params for name, params in sent if name == "StartPipelineExecution"]
    assert [s["PipelineExecutionDisplayName"] for s in starts] == ["sweep-HiddenDim-32"]
    asked = [name for name, _ in sent]
    asked = asked[: asked.index("StartPipelineExecution")]  # the lookup before any start
    assert asked.count("ListPipelineParametersForExecution") == 2 + 2  # scan, then describe
    assert asked.count("DescribePipelineDefinitionForExecution") == 2  # one per match
    sent.clear()
    code, out, err = cli([*SAGEMAKER, "--sweep", "HiddenDim=8,16,32", "--rerun", "--json"], capsys)
    assert code == 0, err
    assert [p["reused"] for p in json.loads(out)["points"]] == [False, False, False]
    assert [n for n, _ in sent].count("StartPipelineExecution") == 3
    names = [n for n, _ in sent]
    assert "ListPipelineExecutions" not in names[: names.index("StartPipelineExecution")]
