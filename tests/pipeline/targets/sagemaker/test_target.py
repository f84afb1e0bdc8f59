"""SageMakerTarget: response mapping and error translation (botocore Stubber, no network)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from botocore.stub import Stubber

import run_pipeline
from pipeline import cli as pipeline_cli
from pipeline.config import DEFAULT_CONFIG_PATH as DEFAULT_CONFIG
from pipeline.core.errors import ConfigError, EndpointError, ExecutionNotFoundError, MoonpipeError
from pipeline.core.records import PipelineDefinition, StepRecord
from pipeline.targets.sagemaker.clients import AwsClients
from pipeline.targets.sagemaker.errors import AwsError, translate
from pipeline.targets.sagemaker.steps import step_record
from pipeline.targets.sagemaker.target import (
    STEPS_UNAVAILABLE,
    SageMakerTarget,
    artifact_location,
)
from tests.moto_aws import client, fresh_account
from tests.moto_aws import moto_url as moto_url

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
PIPE = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/moonpipe"
EXEC = f"{PIPE}/execution/abc"


@pytest.fixture
def target() -> SageMakerTarget:
    session = boto3.Session(
        region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    return SageMakerTarget("us-east-1", "moonpipe", session=session, sleep=lambda s: None)


@pytest.fixture
def sm(target: SageMakerTarget) -> Iterator[Stubber]:
    with Stubber(target.clients.sm) as stub:
        yield stub
        stub.assert_no_pending_responses()


def step(name: str, status: str, seconds: float | None = None, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"StepName": name, "StepStatus": status, "StartTime": T0, **extra}
    if seconds is not None:
        entry["EndTime"] = T0 + timedelta(seconds=seconds)
    return entry


def poll(stub: Stubber, status: str, steps: list[dict[str, Any]]) -> None:
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


def test_failed_step_keeps_reason_and_a_job_less_step_has_no_log() -> None:
    record = step_record(
        step(
            "CheckAccuracy",
            "Failed",
            0,
            FailureReason="bad",
            Metadata={"Condition": {"Outcome": "False"}},
        )
    )
    assert (record.step_type, record.failure_reason, record.log_path) == ("Condition", "bad", None)


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


def test_model_error_from_the_endpoint_is_an_endpoint_error(target: SageMakerTarget) -> None:
    with Stubber(target.clients.runtime) as runtime:
        runtime.add_client_error(
            "invoke_endpoint",
            "ModelError",
            "Received client error (400)",
            http_status_code=424,
            modeled_fields={"OriginalStatusCode": 400, "OriginalMessage": "row 1: expected 2"},
        )
        with pytest.raises(EndpointError) as caught:
            target.invoke_endpoint("ep", b"1\n", "text/csv", "text/csv")
    assert str(caught.value) == "the model refused the request (400): row 1: expected 2"
    assert caught.value.exit_code == 1


def test_missing_endpoint_on_delete(target: SageMakerTarget, sm: Stubber) -> None:
    sm.add_client_error(
        "delete_endpoint", "ValidationException", "Could not find endpoint 'arn:...:endpoint/ep'."
    )
    with pytest.raises(EndpointError) as caught:
        target.delete_endpoint("ep")
    assert str(caught.value) == (
        "endpoint ep not found in us-east-1; list them with --list-endpoints"
    )
    assert caught.value.exit_code == 2  # a usage error, as on the local target


def test_upsert_without_role_sends_nothing(target: SageMakerTarget, sm: Stubber) -> None:
    with pytest.raises(ConfigError) as caught:
        target.upsert_pipeline(PipelineDefinition("moonpipe", "d", "{}"), None)
    assert str(caught.value) == (  # the config check's wording: one rule, one message
        "aws.role_arn: target sagemaker needs the IAM role SageMaker runs the pipeline's jobs "
        "as; pass --role-arn, set MOONPIPE_ROLE_ARN, or set aws.role_arn in the config file"
    )


def client_error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "StartPipelineExecution")


@pytest.mark.parametrize(
    ("raised", "kind", "message"),
    [
        (
            NoCredentialsError(),
            ConfigError,
            "no AWS credentials found; configure a profile or set AWS_PROFILE",
        ),
        (
            EndpointConnectionError(endpoint_url="https://api.sagemaker.xx-1.amazonaws.com"),
            AwsError,
            "could not start pipeline moonpipe: cannot reach "
            "https://api.sagemaker.xx-1.amazonaws.com; check --region and the network",
        ),
        (
            client_error("ExpiredToken", "The security token included in the request is expired"),
            ConfigError,
            "AWS rejected the credentials (ExpiredToken) trying to start pipeline "
            "moonpipe; refresh them or set AWS_PROFILE",
        ),
        (
            client_error("AccessDeniedException", "User: x is not authorized\nto perform"),
            AwsError,
            "access denied trying to start pipeline moonpipe: User: x is not authorized "
            "to perform; check the role or profile's permissions",
        ),
        (
            client_error("ThrottlingException", "Rate exceeded"),
            AwsError,
            "could not start pipeline moonpipe: ThrottlingException: Rate exceeded",
        ),
    ],
)
def test_botocore_failures_become_one_line_errors(
    raised: Exception, kind: type[MoonpipeError], message: str
) -> None:
    with pytest.raises(kind) as caught, translate("start pipeline moonpipe"):
        raise raised
    assert str(caught.value) == message


def test_a_missing_profile_is_one_config_error_saying_how_to_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_PROFILE", raising=False)
    monkeypatch.setenv("AWS_PROFILE", "ml")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    with pytest.raises(ConfigError) as caught:
        SageMakerTarget("eu-west-1", "moonpipe")
    assert str(caught.value) == (
        "AWS profile 'ml' (from AWS_PROFILE) is not in your AWS config or credentials files; "
        "create it (aws configure --profile ml) or unset AWS_PROFILE"
    )
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("uri", ["s3://bucket", "s3://bucket/", "http://bucket/key", "s3:///key"])
def test_artifact_location_needs_a_bucket_and_a_key(uri: str) -> None:
    assert artifact_location("s3://bucket/a/b.py") == ("bucket", "a/b.py")
    with pytest.raises(ConfigError) as caught:
        artifact_location(uri)
    assert str(caught.value) == f"artifact URI {uri!r} is not of the form s3://bucket/key"


# --- end to end: the CLI against a real moto server -------------------------------------

REPO = Path(__file__).resolve().parents[4]
BUCKET = "moonpipe-test-bucket"
ROLE = "arn:aws:iam::123456789012:role/Test"
SAGEMAKER = ["--target", "sagemaker", "--region", "us-east-1", "--bucket", BUCKET]
PIPELINE_ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/moonpipe"


@pytest.fixture
def aws(moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh moto account with the bucket; test-only credentials in the environment."""
    env = fresh_account(moto_url, tmp_path, monkeypatch)
    client("s3").create_bucket(Bucket=BUCKET)
    return env


_BUILT: dict[str, PipelineDefinition] = {}
_real_build = pipeline_cli.build_definition


def cached_build(cfg: Any) -> PipelineDefinition:
    """The real builder, once per distinct config: the SDK build costs seconds per call."""
    key = repr(cfg)
    if key not in _BUILT:
        _BUILT[key] = _real_build(cfg)
    return _BUILT[key]


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run_pipeline.main(argv, pipeline_cli.Services(build_pipeline=cached_build))
    out, err = capsys.readouterr()
    return code, out, err


def execution_count() -> int:
    pages = client("sagemaker").list_pipeline_executions(PipelineName="moonpipe")
    return len(pages["PipelineExecutionSummaries"])


def built_definition(config: Path = DEFAULT_CONFIG) -> PipelineDefinition:
    from pipeline.config import load_config

    overrides = {"target": "sagemaker", "bucket": BUCKET, "region": "us-east-1", "role_arn": ROLE}
    return cached_build(load_config(config, overrides, {}))


def test_upsert_start_json_in_a_subprocess(aws: dict[str, str]) -> None:
    argv = [*SAGEMAKER, "--role-arn", ROLE, "--upsert", "--start", "--param", "HiddenDim=40"]
    done = subprocess.run(
        [sys.executable, str(REPO / "run_pipeline.py"), *argv, "--json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        env={**os.environ, **aws},
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["pipeline_arn"] == "arn:aws:sagemaker:us-east-1:123456789012:pipeline/moonpipe"
    sm = client("sagemaker")
    stored = sm.describe_pipeline(PipelineName="moonpipe")
    expected = built_definition()
    assert stored["PipelineDefinition"] == expected.definition
    assert stored["RoleArn"] == ROLE
    keys = {o["Key"] for o in client("s3").list_objects_v2(Bucket=BUCKET).get("Contents", [])}
    assert expected.artifacts, "the definition references code that must be uploaded"
    for uri in re.findall(r"s3://[^\"\s]+", expected.definition):
        if uri.endswith((".py", ".tar.gz", ".sh")):
            assert artifact_location(uri)[1] in keys, f"{uri} is referenced but was not uploaded"
    params = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=doc["execution_arn"])
    assert {"Name": "HiddenDim", "Value": "40"} in params["PipelineParameters"]
    assert "HiddenDim" in doc["parameters"]


def test_second_upsert_updates_the_pipeline(
    aws: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli([*SAGEMAKER, "--role-arn", ROLE, "--upsert"], capsys)[0] == 0
    changed = tmp_path / "pipeline.yaml"
    text = DEFAULT_CONFIG.read_text().replace("epochs: 100", "epochs: 7")
    changed.write_text(text.replace("Trains a small", "Now trains a small"))
    code, out, _ = cli(
        [*SAGEMAKER, "--config", str(changed), "--role-arn", ROLE, "--upsert", "--json"], capsys
    )
    assert code == 0
    assert json.loads(out) == {
        "pipeline_name": "moonpipe",
        "pipeline_arn": PIPELINE_ARN,
        "changed": True,
        "version": None,
    }
    stored = client("sagemaker").describe_pipeline(PipelineName="moonpipe")
    assert stored["PipelineDefinition"] == built_definition(changed).definition
    assert stored["PipelineDefinition"] != built_definition().definition
    assert stored["PipelineDescription"].startswith("Now trains a small")


def test_an_unchanged_upsert_sends_no_update_and_no_upload(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sent: list[str] = []
    real_client = AwsClients.client

    def recording_client(self: AwsClients, service: str) -> Any:
        made = real_client(self, service)
        made.meta.events.register("before-call.*.*", lambda model, **_: sent.append(model.name))
        return made

    monkeypatch.setattr(AwsClients, "client", recording_client)
    code, out, _ = cli([*SAGEMAKER, "--role-arn", ROLE, "--upsert", "--json"], capsys)
    assert (code, json.loads(out)["changed"]) == (0, True)
    assert sent.count("PutObject") == 3 and sent[-1] == "CreatePipeline"
    sent.clear()
    code, out, err = cli([*SAGEMAKER, "--role-arn", ROLE, "--upsert"], capsys)
    assert (code, out, err) == (
        0,
        "pipeline moonpipe unchanged on sagemaker (it already holds this definition; nothing "
        f"written): {PIPELINE_ARN}\n",
        "",
    )
    assert sent == ["HeadObject"] * 3 + ["DescribePipeline"]
    sent.clear()
    code, out, _ = cli([*SAGEMAKER, "--role-arn", ROLE + "2", "--upsert", "--json"], capsys)
    assert (code, json.loads(out)["changed"]) == (0, True)  # a new role is a change
    assert sent == ["HeadObject"] * 3 + ["DescribePipeline", "UpdatePipeline"]


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("HiddenDim=forty", "parameter HiddenDim is Integer; 'forty' is not a valid integer value"),
        ("Nope=1", "unknown pipeline parameter Nope; this pipeline declares: "),
    ],
)
def test_bad_parameter_starts_nothing(
    aws: dict[str, str], param: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli([*SAGEMAKER, "--role-arn", ROLE, "--upsert", "--start"], capsys)[0] == 0
    before = execution_count()
    code, out, err = cli([*SAGEMAKER, "--start", "--param", param], capsys)
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {message}") and err.count("\n") == 1
    assert execution_count() == before == 1


def test_wait_without_step_api_reports_status_and_says_so(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli([*SAGEMAKER, "--role-arn", ROLE, "--upsert"], capsys)[0] == 0
    code, out, _ = cli([*SAGEMAKER, "--start", "--wait"], capsys)
    assert code == 0
    assert re.search(r"^execution \w+ Succeeded", out, re.MULTILINE)
    assert f"  note: {STEPS_UNAVAILABLE}" in out.splitlines()


def test_management_commands_against_moto(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli([*SAGEMAKER, "--role-arn", ROLE, "--upsert", "--start"], capsys)[0] == 0
    listed = json.loads(cli([*SAGEMAKER, "--list-executions", "--json"], capsys)[1])
    assert [e["status"] for e in listed] == ["Succeeded"]
    described = json.loads(
        cli([*SAGEMAKER, "--describe-execution", listed[0]["execution_id"], "--json"], capsys)[1]
    )
    assert described["execution_arn"] == listed[0]["execution_arn"]
    assert cli([*SAGEMAKER, "--list-endpoints"], capsys)[1] == "(none)\n"
    assert cli([*SAGEMAKER, "--delete-endpoint", "nope"], capsys) == (
        2,  # a usage error: no such endpoint
        "",
        "error: endpoint nope not found in us-east-1; list them with --list-endpoints\n",
    )
    assert cli([*SAGEMAKER, "--describe-execution", "missing"], capsys) == (
        2,
        "",
        "error: no execution missing in us-east-1; list them with --list-executions\n",
    )


def test_upsert_into_a_missing_bucket_is_a_config_error(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--target", "sagemaker", "--bucket", "no-such-bucket", "--role-arn", ROLE, "--upsert"]
    assert cli(argv, capsys) == (
        2,
        "",
        "error: S3 bucket no-such-bucket does not exist or is not yours; create it or "
        "set aws.bucket in the config (or pass --bucket)\n",
    )


def test_start_before_upsert_says_to_upsert(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli([*SAGEMAKER, "--start"], capsys) == (
        2,
        "",
        "error: pipeline moonpipe not found in us-east-1; create it with --upsert\n",
    )


def test_upsert_without_role_exits_2_and_creates_nothing(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli([*SAGEMAKER, "--upsert"], capsys)
    assert (code, out) == (2, "")
    assert err.startswith("error: aws.role_arn: ") and "--role-arn" in err
    assert client("sagemaker").list_pipelines()["PipelineSummaries"] == []


def test_definition_needs_no_credentials_at_all(tmp_path: Path) -> None:
    """No AWS_* variables, an empty HOME: the SageMaker definition still builds."""
    target = ["--target", "sagemaker", "--role-arn", ROLE]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, str(REPO / "run_pipeline.py"), "--definition", *target],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    definition = json.loads(done.stdout)
    assert definition["Version"] == "2020-12-01"
    assert "HiddenDim" in {p["Name"] for p in definition["Parameters"]}


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


def test_stop_against_moto_is_a_clear_error(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """moto does not implement StopPipelineExecution (HTTP 500): one line, no traceback."""
    assert cli([*SAGEMAKER, "--role-arn", ROLE, "--upsert", "--start"], capsys)[0] == 0
    listed = json.loads(cli([*SAGEMAKER, "--list-executions", "--json"], capsys)[1])
    code, out, err = cli([*SAGEMAKER, "--stop", listed[0]["execution_id"]], capsys)
    assert (code, out) == (1, "")
    assert err.startswith(f"error: could not stop execution {listed[0]['execution_id']}: 500: ")
    assert err.count("\n") == 1 and "Traceback" not in err, err
