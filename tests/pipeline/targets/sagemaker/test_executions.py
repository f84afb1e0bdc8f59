"""Executions: start (whole or selective), wait, describe, stop and retry; the exact requests
sent (botocore's Stubber where moto lacks the API, the moto server where it has it)."""

from __future__ import annotations

import json

import pytest
from botocore.stub import Stubber

from pipeline.core.errors import ConfigError, ExecutionNotFoundError
from pipeline.core.records import Selection, StepRecord
from pipeline.targets.sagemaker import STEPS_UNAVAILABLE, SageMakerTarget
from tests.moto_aws import client
from tests.pipeline.targets.sagemaker.support import (
    EXEC,
    PIPE,
    ROLE,
    SAGEMAKER,
    cli,
    poll,
    recorded_calls,
    step,
)


def test_wait_reports_each_status_change_once_and_summarises(
    target: SageMakerTarget, sm: Stubber
) -> None:
    train_arn = "arn:aws:sagemaker:us-east-1:1:training-job/pipelines-abc-TrainMoon"
    package = "arn:aws:sagemaker:us-east-1:1:model-package/moonpipe-models/3"
    endpoint = "arn:aws:sagemaker:us-east-1:1:endpoint/moonpipe-endpoint"
    poll(sm, "Executing", [step("PrepareMoonData", "Executing")])
    poll(
        sm,
        "Executing",
        [step("PrepareMoonData", "Succeeded", 5), step("TrainMoonClassifier", "Executing")],
    )
    final = [
        step("PrepareMoonData", "Succeeded", 5),
        step(
            "TrainMoonClassifier",
            "Succeeded",
            9,
            Metadata={"TrainingJob": {"Arn": train_arn}},
            CacheHitResult={"SourcePipelineExecutionArn": f"{PIPE}/execution/old"},
        ),
        step(
            "RegisterMoonModel-RegisterModel",
            "Succeeded",
            1,
            Metadata={"RegisterModel": {"Arn": package}},
        ),
        step("DeployMoonEndpoint", "Succeeded", 60, Metadata={"Endpoint": {"Arn": endpoint}}),
    ]
    poll(sm, "Succeeded", final)
    sm.add_response(
        "list_pipeline_parameters_for_execution",
        {"PipelineParameters": [{"Name": "HiddenDim", "Value": "40"}]},
        {"PipelineExecutionArn": EXEC},
    )
    seen: list[StepRecord] = []
    summary = target.wait(EXEC, seen.append)
    assert [(r.name, r.status) for r in seen] == [
        ("PrepareMoonData", "Executing"),
        ("PrepareMoonData", "Succeeded"),
        ("TrainMoonClassifier", "Executing"),
        ("TrainMoonClassifier", "Succeeded"),
        ("RegisterMoonModel-RegisterModel", "Succeeded"),
        ("DeployMoonEndpoint", "Succeeded"),
    ]
    assert (summary.status, summary.execution_id, summary.pipeline_name) == (
        "Succeeded",
        "abc",
        "moonpipe",
    )
    assert summary.parameters == {"HiddenDim": "40"}
    assert summary.model_package_arn == package
    assert summary.endpoint is not None and summary.endpoint.name == "moonpipe-endpoint"
    train = summary.steps[1]
    assert (train.step_type, train.cache_hit, train.duration_s) == ("Training", True, 9.0)
    assert train.log_path == (
        "CloudWatch /aws/sagemaker/TrainingJobs stream pipelines-abc-TrainMoon/..."
    )
    assert target.notes == []


def test_describe_execution_by_id_builds_the_arn_from_the_pipeline(
    target: SageMakerTarget, sm: Stubber
) -> None:
    sm.add_response("describe_pipeline", {"PipelineArn": PIPE}, {"PipelineName": "moonpipe"})
    sm.add_client_error(
        "describe_pipeline_execution",
        "ValidationException",
        f"Could not find pipeline execution with PipelineExecutionArn {PIPE}/execution/nope.",
        expected_params={"PipelineExecutionArn": f"{PIPE}/execution/nope"},
    )
    with pytest.raises(ExecutionNotFoundError) as caught:
        target.describe_execution("nope")
    assert str(caught.value) == ("no execution nope in us-east-1; list them with --list-executions")


def test_start_sends_values_as_strings(target: SageMakerTarget, sm: Stubber) -> None:
    sm.add_response(
        "start_pipeline_execution",
        {"PipelineExecutionArn": EXEC},
        {
            "PipelineName": "moonpipe",
            "PipelineParameters": [
                {"Name": "HiddenDim", "Value": "40"},
                {"Name": "LearningRate", "Value": "0.5"},
            ],
        },
    )
    assert target.start_execution("moonpipe", {"HiddenDim": 40, "LearningRate": 0.5}) == EXEC


def source_values(sm: Stubber, source: str, values: dict[str, str]) -> None:
    """The answers a selective start reads: the declared parameters (DescribePipeline), then
    what the source ran with (ListPipelineParametersForExecution)."""
    declared = [{"Name": n, "Type": "String", "DefaultValue": "d"} for n in ("HiddenDim", "Deploy")]
    sm.add_response(
        "describe_pipeline",
        {
            "PipelineArn": PIPE,
            "PipelineName": "moonpipe",
            "PipelineDefinition": json.dumps({"Parameters": declared}),
        },
        {"PipelineName": "moonpipe"},
    )
    sm.add_response(
        "list_pipeline_parameters_for_execution",
        {"PipelineParameters": [{"Name": k, "Value": v} for k, v in values.items()]},
        {"PipelineExecutionArn": source},
    )


def test_selective_start_sends_the_selection_its_source_and_the_sources_values(
    target: SageMakerTarget, sm: Stubber
) -> None:
    """Issue 20 (SageMaker's guide): a selective run starts with its source's values; the
    overrides win, and a value the definition no longer declares is not sent."""
    source_values(sm, f"{PIPE}/execution/src", {"HiddenDim": "8", "Deploy": "true", "Gone": "x"})
    sm.add_response(
        "start_pipeline_execution",
        {"PipelineExecutionArn": EXEC},
        {
            "PipelineName": "moonpipe",
            "PipelineParameters": [
                {"Name": "HiddenDim", "Value": "8"},
                {"Name": "Deploy", "Value": "false"},
            ],
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
    source_values(sm, f"{PIPE}/execution/mid", {})
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


def test_selective_start_against_moto_sends_the_selection_and_the_newest_source(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """moto accepts SelectiveExecutionConfig (it neither checks nor keeps it), so the request
    is checked as the real server received it; RetryPipelineExecution is not implemented by
    moto 5.2.5 (NotImplementedError), so retry stays Stubber-tested above."""
    upsert = [*SAGEMAKER, "--role-arn", ROLE, "--upsert", "--start", "--param", "HiddenDim=8"]
    assert cli(upsert, capsys)[0] == 0
    [source] = client("sagemaker").list_pipeline_executions(PipelineName="moonpipe")[
        "PipelineExecutionSummaries"
    ]
    sent = recorded_calls(monkeypatch)
    code, _, err = cli([*SAGEMAKER, "--start", "--from-step", "EvaluateMoonClassifier"], capsys)
    assert code == 0, err
    [start] = [params for name, params in sent if name == "StartPipelineExecution"]
    selection = start["SelectiveExecutionConfig"]
    assert selection["SourcePipelineExecutionArn"] == source["PipelineExecutionArn"]
    steps = [s["StepName"] for s in selection["SelectedSteps"]]
    assert steps[0] == "EvaluateMoonClassifier" and "PrepareMoonData" not in steps
    assert "TrainMoonClassifier" not in steps and "CheckAccuracy" in steps
    assert start["PipelineParameters"] == [{"Name": "HiddenDim", "Value": "8"}]  # the source's


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


def test_stop_sends_stop_pipeline_execution_and_shows_stopping(
    target: SageMakerTarget, sm: Stubber
) -> None:
    sm.add_response(
        "stop_pipeline_execution",
        {"PipelineExecutionArn": EXEC},
        {"PipelineExecutionArn": EXEC},
    )
    poll(sm, "Stopping", [step("Train", "Stopping")])
    sm.add_response(
        "list_pipeline_parameters_for_execution",
        {"PipelineParameters": []},
        {"PipelineExecutionArn": EXEC},
    )
    summary = target.stop_execution(EXEC)
    assert (summary.status, [(s.name, s.status) for s in summary.steps]) == (
        "Stopping",
        [("Train", "Stopping")],
    )


def test_stop_of_an_ended_execution_is_one_line_exit_2(
    target: SageMakerTarget, sm: Stubber
) -> None:
    sm.add_response("describe_pipeline", {"PipelineArn": PIPE}, {"PipelineName": "moonpipe"})
    sm.add_client_error(
        "stop_pipeline_execution",
        "ValidationException",
        "Pipeline execution with ARN abc status is Succeeded. Only Executing executions can be "
        "stopped.",
        expected_params={"PipelineExecutionArn": EXEC},
    )
    with pytest.raises(ConfigError) as caught:
        target.stop_execution("abc")
    assert str(caught.value) == (
        "could not stop execution abc: Pipeline execution with ARN abc "
        "status is Succeeded. Only Executing executions can be stopped."
    )
    assert caught.value.exit_code == 2


def test_stop_of_an_unknown_execution_says_so(target: SageMakerTarget, sm: Stubber) -> None:
    sm.add_client_error(
        "stop_pipeline_execution",
        "ValidationException",
        f"Could not find pipeline execution with PipelineExecutionArn {EXEC}.",
        expected_params={"PipelineExecutionArn": EXEC},
    )
    with pytest.raises(ExecutionNotFoundError) as caught:
        target.stop_execution(EXEC)
    assert str(caught.value) == (
        f"no execution {EXEC} in us-east-1; list them with --list-executions"
    )


def test_run_or_follow_describes_once_without_wait(target: SageMakerTarget, sm: Stubber) -> None:
    """--start alone: the service runs it; one look, no step reported."""
    poll(sm, "Executing", [step("PrepareMoonData", "Executing")])
    sm.add_response(
        "list_pipeline_parameters_for_execution",
        {"PipelineParameters": []},
        {"PipelineExecutionArn": EXEC},
    )
    seen: list[StepRecord] = []
    summary = target.run_or_follow(EXEC, False, seen.append)
    assert (summary.status, summary.ended_at, seen) == ("Executing", None, [])


def test_run_or_follow_with_wait_follows_to_the_end(target: SageMakerTarget, sm: Stubber) -> None:
    poll(sm, "Executing", [step("PrepareMoonData", "Executing")])
    poll(sm, "Failed", [step("PrepareMoonData", "Failed", 3, FailureReason="bad rows")])
    sm.add_response(
        "list_pipeline_parameters_for_execution",
        {"PipelineParameters": []},
        {"PipelineExecutionArn": EXEC},
    )
    seen: list[StepRecord] = []
    summary = target.run_or_follow(EXEC, True, seen.append)
    assert [(r.name, r.status) for r in seen] == [
        ("PrepareMoonData", "Executing"),
        ("PrepareMoonData", "Failed"),
    ]
    assert summary.status == "Failed" and summary.ended_at is not None


def test_run_or_follow_against_moto(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """moto's executions succeed at once; without ListPipelineExecutionSteps nothing is
    reported step by step, and the target's notes say why."""
    assert cli([*SAGEMAKER, "--role-arn", ROLE, "--upsert"], capsys)[0] == 0
    target = SageMakerTarget("us-east-1", "moonpipe", sleep=lambda s: None)
    arn = target.start_execution("moonpipe", {"HiddenDim": 8}, "one")
    seen: list[StepRecord] = []
    for wait in (False, True):
        summary = target.run_or_follow(arn, wait, seen.append)
        assert (summary.execution_arn, summary.status) == (arn, "Succeeded")
        assert summary.parameters == {"HiddenDim": "8"}
    assert seen == [] and target.notes == [STEPS_UNAVAILABLE]
