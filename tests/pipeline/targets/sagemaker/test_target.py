"""SageMakerTarget: every verb of the Target protocol, and the CLI on the SageMaker target end
to end against a real moto server."""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from pipeline.config import DEFAULT_CONFIG_PATH as DEFAULT_CONFIG
from pipeline.core.errors import ConfigError, PipelineNotFoundError
from pipeline.targets.base import Target
from pipeline.targets.sagemaker import STEPS_UNAVAILABLE, SageMakerTarget
from pipeline.targets.sagemaker.clients import AwsClients
from pipeline.targets.sagemaker.pages import NO_PAGES_LATER
from pipeline.targets.sagemaker.pipelines import artifact_location
from tests.moto_aws import client
from tests.pipeline.targets.sagemaker.support import (
    BUCKET,
    EXEC,
    PIPELINE_ARN,
    REPO,
    ROLE,
    SAGEMAKER,
    built_definition,
    cli,
    execution_count,
)


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
        "store": None,  # SageMaker keeps every record: no local store
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
    listed = json.loads(cli([*SAGEMAKER, "--list-executions", "--json"], capsys)[1])["executions"]
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


def test_stop_against_moto_is_a_clear_error(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """moto does not implement StopPipelineExecution (HTTP 500): one line, no traceback."""
    assert cli([*SAGEMAKER, "--role-arn", ROLE, "--upsert", "--start"], capsys)[0] == 0
    listed = json.loads(cli([*SAGEMAKER, "--list-executions", "--json"], capsys)[1])["executions"]
    code, out, err = cli([*SAGEMAKER, "--stop", listed[0]["execution_id"]], capsys)
    assert (code, out) == (1, "")
    assert err.startswith(f"error: could not stop execution {listed[0]['execution_id']}: 500: ")
    assert err.count("\n") == 1 and "Traceback" not in err, err


# --- the verbs of the Target protocol ----------------------------------------------------


def test_every_verb_of_the_protocol_is_there_with_its_parameters(
    target: SageMakerTarget,
) -> None:
    """A verb the front may call is never missing (mypy checks the types: ``checked``)."""
    checked: Target = target
    verbs = {
        name: member
        for name, member in vars(Target).items()
        if inspect.isfunction(member) and not name.startswith("_")
    }
    assert len(verbs) >= 27  # every verb, not an empty loop
    for name, verb in verbs.items():
        wanted = list(inspect.signature(verb).parameters)[1:]  # without self
        given = inspect.signature(getattr(checked, name)).parameters
        assert list(given)[: len(wanted)] == wanted, name
        for extra in list(given.values())[len(wanted) :]:  # only optional keywords beyond
            assert extra.kind is extra.KEYWORD_ONLY and extra.default is not extra.empty, name
    assert (target.name, target.default_parallel, target.notes) == ("sagemaker", 4, [])


def test_follow_and_the_warm_host_do_not_apply_here_in_the_fronts_words(
    target: SageMakerTarget, sm: Stubber
) -> None:
    with pytest.raises(ConfigError) as follow:
        target.check_follow()
    assert str(follow.value) == (
        "--follow shows local jobs' output as they run; on SageMaker a job's log is in "
        "CloudWatch (see --describe-execution); drop --follow"
    )
    with pytest.raises(ConfigError) as host:
        target.stop_warm_host()
    assert str(host.value) == "--stop-host is for the local target (SageMaker runs no warm host)"
    assert follow.value.exit_code == host.value.exit_code == 2
    target.warm_up()  # nothing to get ready, and no call sent (the Stubber has no answer)


def test_a_steps_log_is_not_faked_the_note_says_it_is_in_cloudwatch(
    target: SageMakerTarget, sm: Stubber
) -> None:
    log = target.step_log("abc123", "TrainMoonClassifier", offset=10)
    assert (log.text, log.path, log.complete) == ("", None, True)
    assert log.note.startswith("step TrainMoonClassifier: its job's log is in CloudWatch Logs")


def test_pages_asked_for_later_are_not_drawn_and_a_note_says_how_to_write_them(
    target: SageMakerTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    target.draw_pages_later(["a", "b"], None, [])
    assert target.notes == []  # nothing was asked
    comparison = target.comparison_path(["a", "b"])
    target.draw_pages_later(["a", "b"], comparison, ["a", "b"])
    target.draw_pages_later(["a", "b"], comparison, ["a"])
    assert target.notes == [NO_PAGES_LATER]
    assert "comparison report" in NO_PAGES_LATER and "--report ID" in NO_PAGES_LATER
    assert list(tmp_path.iterdir()) == []
    assert target.report_path("a") == tmp_path / "moonpipe-report-a.html"
    assert comparison == tmp_path / "moonpipe-comparison-a-vs-b.html"
    assert target.point_runs().launch(EXEC).exited() is None


def test_the_stored_definition_as_a_graph(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli([*SAGEMAKER, "--role-arn", ROLE, "--upsert"], capsys)[0] == 0
    target = SageMakerTarget("us-east-1", "moonpipe")
    graph = target.pipeline_graph("moonpipe")
    names = [s.name for s in graph.steps]
    assert names[0] == "PrepareMoonData" and "TrainMoonClassifier" in names
    assert "HiddenDim" in {p["Name"] for p in target.pipeline_parameters("moonpipe")}
    with pytest.raises(PipelineNotFoundError) as caught:
        target.pipeline_graph("nope")
    assert str(caught.value) == "pipeline nope not found in us-east-1; create it with --upsert"
