"""run_pipeline.main against a fake Target and config: flags, conflicts, errors, exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import run_pipeline
from pipeline import cli
from pipeline.errors import ConfigError, EndpointError, PipelineNotFoundError
from pipeline.target import EndpointRef, ExecutionSummary, PipelineDefinition, StepRecord

REPO = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
DECLARED = [
    {"Name": "HiddenDim", "Type": "Integer", "DefaultValue": 20},
    {"Name": "LearningRate", "Type": "Float", "DefaultValue": 0.01},
    {"Name": "EndpointName", "Type": "String", "DefaultValue": "moonpipe-endpoint"},
]
ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/moonpipe"


class FakeTarget:
    """Records every call; runs_in_foreground and the final status are settable."""

    def __init__(self, name: str = "local", foreground: bool = True, status: str = "Succeeded"):
        self.name = name
        self.runs_in_foreground = foreground
        self.final_status = status
        self.calls: list[tuple[str, Any]] = []

    def upsert_pipeline(self, pipeline: PipelineDefinition, role_arn: str | None) -> str:
        self.calls.append(("upsert", role_arn))
        return ARN

    def pipeline_parameters(self, pipeline_name: str) -> list[dict[str, Any]]:
        self.calls.append(("parameters", pipeline_name))
        return DECLARED

    def start_execution(self, pipeline_name: str, parameters: Mapping[str, Any]) -> str:
        self.calls.append(("start", dict(parameters)))
        return f"{ARN}/execution/abc123"

    def _summary(self, arn: str, status: str, steps: tuple[StepRecord, ...]) -> ExecutionSummary:
        failed = status == "Failed"
        return ExecutionSummary(
            pipeline_name="moonpipe",
            execution_arn=arn,
            execution_id=arn.rsplit("/", 1)[-1],
            status=status,
            failure_reason="Step TrainMoonClassifier failed: boom" if failed else None,
            parameters={"HiddenDim": 40},
            steps=steps,
            metrics={"accuracy": 0.9267},
            model_package_arn=None if failed else "arn:mp/1",
            endpoint=None if failed else EndpointRef("moonpipe-endpoint", "http://127.0.0.1:1"),
            started_at=T0,
            ended_at=T0 + timedelta(seconds=12),
        )

    def wait(self, execution_arn: str, on_step: Any) -> ExecutionSummary:
        self.calls.append(("wait", execution_arn))
        step = StepRecord("PrepareMoonData", "Processing", "Executing", started_at=T0)
        on_step(step)
        done = StepRecord(
            "PrepareMoonData", "Processing", self.final_status, T0, T0 + timedelta(seconds=2)
        )
        on_step(done)
        return self._summary(execution_arn, self.final_status, (done,))

    def describe_execution(self, execution_ref: str) -> ExecutionSummary:
        self.calls.append(("describe", execution_ref))
        return self._summary(f"{ARN}/execution/{execution_ref.rsplit('/', 1)[-1]}", "Executing", ())

    def list_executions(self, pipeline_name: str) -> list[ExecutionSummary]:
        self.calls.append(("list_executions", pipeline_name))
        return [self._summary(f"{ARN}/execution/e{i}", "Succeeded", ()) for i in (2, 1)]

    def list_endpoints(self) -> list[EndpointRef]:
        return [EndpointRef("moonpipe-endpoint", "http://127.0.0.1:8080", "InService")]

    def invoke_endpoint(self, name: str, body: bytes, content_type: str, accept: str) -> bytes:
        self.calls.append(("invoke", (name, body, content_type, accept)))
        if name == "refuses":
            raise EndpointError("the model refused the request (400): bad row")
        return b"0\n1\n"

    def delete_endpoint(self, name: str) -> None:
        self.calls.append(("delete", name))


ROLE_MISSING = "aws.role_arn: target sagemaker needs the IAM role; pass --role-arn"


def require_role(role_arn: str | None) -> str:
    if role_arn is None:
        raise ConfigError(ROLE_MISSING)
    return role_arn


def fake_config(target: str = "local", role_arn: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        require_role=lambda: require_role(role_arn),
        target=target,
        pipeline=SimpleNamespace(name="moonpipe", description="moons"),
        aws=SimpleNamespace(region="us-east-1", bucket="b", prefix="p", role_arn=role_arn),
        local=SimpleNamespace(store_root=".moonpipe"),
    )


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """Fake config, target and builder wired into pipeline.cli; returns them to inspect."""
    state = SimpleNamespace(target=FakeTarget(), cfg=fake_config(), built=0, overrides=None)

    def load(path: Path, overrides: dict[str, str]) -> SimpleNamespace:
        state.overrides = overrides
        return state.cfg

    def build(cfg: Any) -> PipelineDefinition:
        state.built += 1
        return PipelineDefinition("moonpipe", "moons", json.dumps({"Parameters": DECLARED}))

    monkeypatch.setattr(cli, "load_config", load)
    monkeypatch.setattr(cli, "build_pipeline", build)
    monkeypatch.setattr(cli, "make_target", lambda cfg: state.target)
    return state


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run_pipeline.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def names(target: FakeTarget) -> list[str]:
    return [name for name, _ in target.calls]


def test_help_shows_runnable_examples_for_both_targets(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    assert "python run_pipeline.py --upsert --start --wait" in out
    assert "--target sagemaker --start --wait --param HiddenDim=40" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "nothing to do: give an action such as --upsert --start --wait (see --help)"),
        (["--upsert", "--invoke", "e", "--data", "f"], "--upsert cannot be combined with --invoke"),
        (["--definition", "--start"], "--start cannot be combined with --definition"),
        (
            ["--list-endpoints", "--list-executions"],
            "--list-executions cannot be combined with --list-endpoints",
        ),
        (["--wait"], "--wait needs --start (it follows the execution that --start starts)"),
        (
            ["--upsert", "--param", "HiddenDim=4"],
            "--param needs --start (parameters apply to the execution --start starts)",
        ),
        (["--list-endpoints", "--data", "f.csv"], "--data can only be used with --invoke"),
        (["--start", "--accept", "text/csv"], "--accept can only be used with --invoke"),
        (["--invoke", "e"], "--invoke needs --data FILE.csv (or --data - to read stdin)"),
        (
            ["--start", "--target", "cloud"],
            "argument --target: invalid choice: 'cloud' (choose from 'local', 'sagemaker')",
        ),
    ],
)
def test_nonsense_combinations_are_usage_errors(
    argv: list[str], message: str, world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(argv, capsys)
    assert code == 2
    assert err.splitlines()[-1] == f"run_pipeline.py: error: {message}"
    assert out == ""
    assert world.target.calls == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            ["HiddenDim=forty"],
            "parameter HiddenDim is Integer; 'forty' is not a valid integer value "
            "(expected digits with an optional sign, e.g. 40 or -3)",
        ),
        (
            ["HiddenDim=1_0"],
            "parameter HiddenDim is Integer; '1_0' is not a valid integer value "
            "(expected digits with an optional sign, e.g. 40 or -3)",
        ),
        (
            ["Nope=1"],
            "unknown pipeline parameter Nope; this pipeline declares: "
            "EndpointName, HiddenDim, LearningRate",
        ),
        (["HiddenDim"], "--param 'HiddenDim': expected NAME=VALUE, e.g. --param HiddenDim=40"),
        (["HiddenDim=3", "HiddenDim=4"], "--param HiddenDim is given twice; keep one"),
        (
            ["LearningRate=nan"],
            "parameter LearningRate is Float; 'nan' is not a valid float value "
            "(expected a finite decimal number, e.g. 0.05, 5e-2 or 3)",
        ),
    ],
)
def test_bad_parameters_stop_before_anything_is_started(
    params: list[str], message: str, world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--start"] + [f"--param={p}" for p in params]
    code, out, err = run(argv, capsys)
    assert (code, out, err) == (2, "", f"error: {message}\n")
    assert "start" not in names(world.target)


def test_bad_parameter_with_upsert_does_not_even_update_the_pipeline(
    world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["--upsert", "--start", "--param", "Nope=1"], capsys)
    assert code == 2
    assert err.startswith("error: unknown pipeline parameter Nope")
    assert world.target.calls == []


def test_sagemaker_upsert_without_role_is_refused_before_building(
    world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    world.target = FakeTarget(name="sagemaker", foreground=False)
    code, out, err = run(["--upsert", "--target", "sagemaker"], capsys)
    assert (code, out) == (2, "")
    assert err == f"error: {ROLE_MISSING}\n"
    assert world.built == 0 and world.target.calls == []


def test_settings_flags_become_config_overrides(
    world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "--list-endpoints",
        "--target",
        "sagemaker",
        "--region",
        "eu-west-1",
        "--bucket",
        "bk",
        "--role-arn",
        "arn:r",
        "--store",
        "/tmp/s",
    ]
    assert run(argv, capsys)[0] == 0
    assert world.overrides == {
        "target": "sagemaker",
        "region": "eu-west-1",
        "bucket": "bk",
        "role_arn": "arn:r",
        "store_root": "/tmp/s",
    }


def test_upsert_start_wait_json_is_one_document_with_progress_on_stderr(
    world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        ["--upsert", "--start", "--wait", "--param", "HiddenDim=40", "--json"], capsys
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["pipeline_arn"] == ARN
    assert doc["status"] == "Succeeded"
    assert doc["execution_id"] == "abc123"
    assert doc["steps"][0]["name"] == "PrepareMoonData"
    assert doc["endpoint"] == {"name": "moonpipe-endpoint", "url": "http://127.0.0.1:1"}
    assert "started    PrepareMoonData (Processing)" in err
    assert ("start", {"HiddenDim": 40}) in world.target.calls  # typed, only the override
    assert names(world.target) == ["upsert", "start", "wait"]


def test_failed_execution_exits_1_with_reason_and_where_to_look(
    world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    world.target = FakeTarget(status="Failed")
    code, out, _ = run(["--start", "--wait"], capsys)
    assert code == 1
    assert "execution abc123 Failed in 12.0 s" in out
    assert "  failure reason: Step TrainMoonClassifier failed: boom" in out
    assert "python run_pipeline.py --describe-execution abc123" in out


def test_local_start_without_wait_still_runs_to_the_end(
    world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["--start"], capsys)
    assert code == 0
    assert names(world.target) == ["parameters", "start", "wait"]
    assert "  succeeded  PrepareMoonData (Processing)  2.0 s" in out


def test_service_start_without_wait_returns_at_once(
    world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    world.target = FakeTarget(name="sagemaker", foreground=False)
    code, out, _ = run(["--start", "--json"], capsys)
    assert code == 0
    assert names(world.target) == ["parameters", "start", "describe"]
    assert json.loads(out)["status"] == "Executing"
    assert json.loads(out)["pipeline_arn"] == ARN


def test_target_errors_become_one_line_and_their_exit_code(
    world: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def missing(name: str) -> list[dict[str, Any]]:
        raise PipelineNotFoundError("pipeline moonpipe not found; create it with --upsert")

    monkeypatch.setattr(world.target, "pipeline_parameters", missing)
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(b"1,2\n")))
    assert run(["--start"], capsys) == (
        2,
        "",
        "error: pipeline moonpipe not found; create it with --upsert\n",
    )
    code, out, err = run(["--invoke", "refuses", "--data", "-"], capsys)
    assert (code, out, err) == (1, "", "error: the model refused the request (400): bad row\n")


def test_invoke_reads_file_or_stdin_and_prints_one_prediction_per_line(
    world: SimpleNamespace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    points = tmp_path / "p.csv"
    points.write_text("0.0,0.9\n1.0,-0.5\n")
    assert run(["--invoke", "ep", "--data", str(points)], capsys) == (0, "0\n1\n", "")
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(b"2,2\n")))
    run(["--invoke", "ep", "--data", "-", "--accept", "application/json"], capsys)
    assert world.target.calls[-2:] == [
        ("invoke", ("ep", b"0.0,0.9\n1.0,-0.5\n", "text/csv", "text/csv")),
        ("invoke", ("ep", b"2,2\n", "text/csv", "application/json")),
    ]


def test_invoke_with_unreadable_data_file(
    world: SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.csv"
    code, _, err = run(["--invoke", "ep", "--data", str(missing)], capsys)
    assert (code, err) == (
        2,
        f"error: --data {missing}: cannot read it (No such file or directory); "
        "give a CSV file or -\n",
    )


def test_management_commands_json_shapes(
    world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    executions = json.loads(run(["--list-executions", "--json"], capsys)[1])
    assert [e["execution_id"] for e in executions] == ["e2", "e1"]
    endpoints = json.loads(run(["--list-endpoints", "--json"], capsys)[1])
    assert endpoints == [
        {"name": "moonpipe-endpoint", "status": "InService", "url": "http://127.0.0.1:8080"}
    ]
    described = json.loads(run(["--describe-execution", "e1", "--json"], capsys)[1])
    assert described["execution_id"] == "e1"
    assert json.loads(run(["--delete-endpoint", "ep", "--json"], capsys)[1]) == {
        "deleted_endpoint": "ep"
    }
    assert ("delete", "ep") in world.target.calls


def test_management_commands_human_output(
    world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run(["--list-endpoints"], capsys)[1]
    assert out.splitlines()[0].split() == ["ENDPOINT", "STATUS", "URL"]
    assert out.splitlines()[1].split() == [
        "moonpipe-endpoint",
        "InService",
        "http://127.0.0.1:8080",
    ]
    out = run(["--list-executions"], capsys)[1]
    assert out.splitlines()[1].split()[:2] == ["e2", "Succeeded"]


def test_definition_prints_json_without_making_a_target(
    world: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "make_target", lambda cfg: pytest.fail("no target for --definition"))
    code, out, _ = run(["--definition"], capsys)
    assert code == 0
    assert json.loads(out) == {"Parameters": DECLARED}


def test_definition_stdout_stays_pure_json_when_the_builder_prints(
    world: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def noisy_build(cfg: Any) -> PipelineDefinition:
        print("sagemaker.config INFO - Not applying SDK defaults")
        return PipelineDefinition("moonpipe", "moons", '{"Steps": []}')

    monkeypatch.undo()  # the real cli.build_pipeline wrapper, around a fake definition module
    monkeypatch.setattr(cli, "load_config", lambda path, overrides: world.cfg)
    monkeypatch.setitem(
        sys.modules, "pipeline.definition", SimpleNamespace(build_pipeline=noisy_build)
    )
    code, out, err = run(["--definition", "--json"], capsys)
    assert (code, out) == (0, '{"Steps": []}\n')
    assert err == "sagemaker.config INFO - Not applying SDK defaults\n"


def test_help_runs_as_a_script() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "run_pipeline.py"), "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 0
    assert "exit codes: 0 success" in done.stdout.lower()
