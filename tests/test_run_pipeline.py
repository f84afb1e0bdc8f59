"""run_pipeline.main against a fake Target and config: flags, conflicts, errors, exit codes."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import run_pipeline
from pipeline import cli
from pipeline.core.errors import ConfigError, EndpointError, PipelineNotFoundError
from pipeline.core.interrupts import unwind_like_ctrl_c
from pipeline.core.records import (
    EndpointRef,
    ExecutionSummary,
    PipelineDefinition,
    Selection,
    StepRecord,
    UpsertResult,
)

REPO = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
DECLARED = [
    {"Name": "HiddenDim", "Type": "Integer", "DefaultValue": 20},
    {"Name": "LearningRate", "Type": "Float", "DefaultValue": 0.01},
    {"Name": "EndpointName", "Type": "String", "DefaultValue": "moonpipe-endpoint"},
]
ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/moonpipe"
STORE = "/work/project/.moonpipe"


class FakeTarget:
    """Records every call; whether it runs in the foreground (as the local target does)
    and the final status are settable; named "sagemaker", it refuses what SageMaker refuses
    with a stand-in's words (the real words are the targets' own tests')."""

    def __init__(self, name: str = "local", foreground: bool = True, status: str = "Succeeded"):
        self.name = name
        self.store = STORE if name == "local" else None
        self.runs_in_foreground = foreground
        self.final_status = status
        self.upsert_changes = True
        self.notes: list[str] = []
        self.on_line: Any = None
        self.calls: list[tuple[str, Any]] = []
        self.default_parallel = 2

    def check_upsert_settings(self, role_arn: str | None) -> None:
        if self.name == "sagemaker":
            require_role(role_arn)

    def check_follow(self) -> None:
        if self.name == "sagemaker":
            raise ConfigError(FOLLOW_REFUSED)

    def warm_up(self) -> None:
        pass

    def stop_warm_host(self) -> int | None:
        if self.name == "sagemaker":
            raise ConfigError(STOP_HOST_REFUSED)
        return None

    def run_or_follow(self, execution_arn: str, wait: bool, on_step: Any) -> ExecutionSummary:
        if wait or self.runs_in_foreground:
            return self.wait(execution_arn, on_step)
        return self.describe_execution(execution_arn)

    def upsert_pipeline(self, pipeline: PipelineDefinition, role_arn: str | None) -> UpsertResult:
        self.calls.append(("upsert", role_arn))
        return UpsertResult(ARN, self.upsert_changes, 3)

    def check_start_of(self, pipeline: PipelineDefinition, parameters: Mapping[str, Any]) -> None:
        self.calls.append(("check", dict(parameters)))

    def pipeline_parameters(self, pipeline_name: str) -> list[dict[str, Any]]:
        self.calls.append(("parameters", pipeline_name))
        return DECLARED

    def start_execution(
        self,
        pipeline_name: str,
        parameters: Mapping[str, Any],
        display_name: str | None = None,
        selection: Selection | None = None,
    ) -> str:
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
        if self.on_line is not None:
            self.on_line("PrepareMoonData", "wrote 450 train rows")
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

    def retry_execution(self, execution_ref: str) -> str:
        self.calls.append(("retry", execution_ref))
        return f"{ARN}/execution/{execution_ref}"


ROLE_MISSING = "aws.role_arn: target sagemaker needs the IAM role; pass --role-arn"
FOLLOW_REFUSED = (
    "--follow shows local jobs' output as they run; on SageMaker a job's log is in "
    "CloudWatch (see --describe-execution); drop --follow"
)
STOP_HOST_REFUSED = "--stop-host is for the local target (SageMaker runs no warm host)"


def require_role(role_arn: str | None) -> str:
    if role_arn is None:
        raise ConfigError(ROLE_MISSING)
    return role_arn


def fake_config(target: str = "local", role_arn: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(
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

    def make_target(cfg: Any, on_line: Any) -> FakeTarget:
        state.target.on_line = on_line
        return state.target

    state.services = cli.Services(load_config=load, build_pipeline=build, make_target=make_target)
    return state


def run(
    argv: list[str], capsys: pytest.CaptureFixture[str], services: cli.Services | None = None
) -> tuple[int, str, str]:
    code = run_pipeline.main(argv, services)
    out, err = capsys.readouterr()
    return code, out, err


def names(target: FakeTarget) -> list[str]:
    return [name for name, _ in target.calls]


def test_help_shows_runnable_examples_for_both_targets(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    assert "python run_pipeline.py --upsert --start --wait" in out
    assert "--target sagemaker --start --wait --param HiddenDim=40" in out


PARAM_NEEDS = (
    "--param needs --start (parameters apply to the execution --start starts) "
    "or --sweep (shared by every point)"
)


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
        (["--wait"], "--wait needs --start or --retry (it follows the execution they run)"),
        (
            ["--follow"],
            "--follow needs --start or --retry (it shows the jobs of the execution they run)",
        ),
        (["--upsert", "--param", "HiddenDim=4"], PARAM_NEEDS),
        (["--list-endpoints", "--data", "f.csv"], "--data needs --invoke"),
        (["--start", "--accept", "text/csv"], "--accept needs --invoke"),
        # issue 20: a flag without its action named the action, not "nothing to do"
        (["--param", "HiddenDim=40"], PARAM_NEEDS),
        (
            ["--deploy-best"],
            "--deploy-best needs --sweep NAME=V1,V2,... (e.g. --sweep HiddenDim=8,16)",
        ),
        (
            ["--deploy-best", "acuracy"],
            "--deploy-best needs --sweep NAME=V1,V2,... (e.g. --sweep HiddenDim=8,16)",
        ),
        (["--endpoint-name", "e"], "--endpoint-name needs --deploy-model-package"),
        (["--limit", "5"], "--limit needs --list-executions"),
        (["--from-step", "EvaluateMoonClassifier"], "--steps and --from-step need --start"),
        # issue 20: did you mean, for flags
        (["--strat"], "unrecognized argument --strat (did you mean --start?); see --help"),
        (
            ["--start", "--parm", "HiddenDim=4"],
            "unrecognized arguments: --parm (did you mean --param?), HiddenDim=4; see --help",
        ),
        (
            ["--list-endpionts"],
            "unrecognized argument --list-endpionts (did you mean --list-endpoints?); see --help",
        ),
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
    code, out, err = run(argv, capsys, world.services)
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
    code, out, err = run(argv, capsys, world.services)
    assert (code, out, err) == (2, "", f"error: {message}\n")
    assert "start" not in names(world.target)


def test_bad_parameter_with_upsert_does_not_even_update_the_pipeline(
    world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["--upsert", "--start", "--param", "Nope=1"], capsys, world.services)
    assert code == 2
    assert err.startswith("error: unknown pipeline parameter Nope")
    assert world.target.calls == []


def test_sagemaker_upsert_without_role_is_refused_before_building(
    world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    world.target = FakeTarget(name="sagemaker", foreground=False)
    code, out, err = run(["--upsert", "--target", "sagemaker"], capsys, world.services)
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
    assert run(argv, capsys, world.services)[0] == 0
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
        ["--upsert", "--start", "--wait", "--param", "HiddenDim=40", "--json"],
        capsys,
        world.services,
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
    # the start is gated before the upsert, with the typed override: a refused start stores nothing
    assert world.target.calls[0] == ("check", {"HiddenDim": 40})
    assert names(world.target) == ["check", "upsert", "start", "wait"]


@pytest.mark.parametrize(
    ("changes", "line"),
    [
        (True, f"pipeline moonpipe stored on local as version 3: {ARN}"),
        (
            False,
            f"pipeline moonpipe unchanged on local (version 3 is this definition; "
            f"nothing written): {ARN}",
        ),
    ],
)
def test_upsert_says_whether_it_stored_a_version(
    world: SimpleNamespace, changes: bool, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    world.target.upsert_changes = changes
    assert run(["--upsert"], capsys, world.services) == (0, f"{line}\nstore: {STORE}\n", "")
    code, out, _ = run(["--upsert", "--json"], capsys, world.services)
    assert (code, json.loads(out)) == (
        0,
        {
            "store": STORE,
            "pipeline_name": "moonpipe",
            "pipeline_arn": ARN,
            "changed": changes,
            "version": 3,
        },
    )
    code, out, err = run(["--upsert", "--start", "--json"], capsys, world.services)
    assert code == 0 and err.splitlines()[0] == line


def test_failed_execution_exits_1_with_reason_and_where_to_look(
    world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    world.target = FakeTarget(status="Failed")
    code, out, _ = run(["--start", "--wait"], capsys, world.services)
    assert code == 1
    assert "execution abc123 Failed in 12.0 s" in out
    assert "  failure reason: Step TrainMoonClassifier failed: boom" in out
    assert "python run_pipeline.py --describe-execution abc123" in out


def test_local_start_without_wait_still_runs_to_the_end(
    world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["--start"], capsys, world.services)
    assert code == 0
    assert names(world.target) == ["parameters", "start", "wait"]
    assert "  succeeded  PrepareMoonData (Processing)  2.0 s" in out


def test_service_start_without_wait_returns_at_once(
    world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    world.target = FakeTarget(name="sagemaker", foreground=False)
    code, out, _ = run(["--start", "--json"], capsys, world.services)
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
    assert run(["--start"], capsys, world.services) == (
        2,
        "",
        f"error: pipeline moonpipe not found; create it with --upsert (store: {STORE})\n",
    )
    code, out, err = run(["--invoke", "refuses", "--data", "-"], capsys, world.services)
    assert (code, out, err) == (1, "", "error: the model refused the request (400): bad row\n")


def test_invoke_reads_file_or_stdin_and_prints_one_prediction_per_line(
    world: SimpleNamespace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    points = tmp_path / "p.csv"
    points.write_text("0.0,0.9\n1.0,-0.5\n")
    assert run(["--invoke", "ep", "--data", str(points)], capsys, world.services) == (
        0,
        "0\n1\n",
        "",
    )
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(b"2,2\n")))
    run(["--invoke", "ep", "--data", "-", "--accept", "application/json"], capsys, world.services)
    assert world.target.calls[-2:] == [
        ("invoke", ("ep", b"0.0,0.9\n1.0,-0.5\n", "text/csv", "text/csv")),
        ("invoke", ("ep", b"2,2\n", "text/csv", "application/json")),
    ]


def test_invoke_with_unreadable_data_file(
    world: SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.csv"
    code, _, err = run(["--invoke", "ep", "--data", str(missing)], capsys, world.services)
    assert (code, err) == (
        2,
        f"error: --data {missing}: cannot read it (No such file or directory); "
        "give a CSV file or -\n",
    )


def test_management_commands_json_shapes(
    world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    executions = json.loads(run(["--list-executions", "--json"], capsys, world.services)[1])
    assert (executions["store"], executions["total"]) == (STORE, 2)
    assert [e["execution_id"] for e in executions["executions"]] == ["e2", "e1"]
    endpoints = json.loads(run(["--list-endpoints", "--json"], capsys, world.services)[1])
    assert endpoints == {
        "store": STORE,
        "endpoints": [
            {"name": "moonpipe-endpoint", "status": "InService", "url": "http://127.0.0.1:8080"}
        ],
    }
    described = json.loads(run(["--describe-execution", "e1", "--json"], capsys, world.services)[1])
    assert (described["execution_id"], described["store"]) == ("e1", STORE)
    assert json.loads(run(["--delete-endpoint", "ep", "--json"], capsys, world.services)[1]) == {
        "store": STORE,
        "deleted_endpoint": "ep",
    }
    assert ("delete", "ep") in world.target.calls


def test_management_commands_human_output(
    world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run(["--list-endpoints"], capsys, world.services)[1]
    assert out.splitlines()[0].split() == ["ENDPOINT", "STATUS", "URL"]
    assert out.splitlines()[1].split() == [
        "moonpipe-endpoint",
        "InService",
        "http://127.0.0.1:8080",
    ]
    out = run(["--list-executions"], capsys, world.services)[1]
    assert out.splitlines()[1].split()[:2] == ["e2", "Succeeded"]


def test_definition_prints_json_without_making_a_target(
    world: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    services = replace(
        world.services, make_target=lambda cfg, on_line: pytest.fail("no target for --definition")
    )
    code, out, _ = run(["--definition"], capsys, services)
    assert code == 0
    assert json.loads(out) == {"Parameters": DECLARED}


def test_definition_stdout_stays_pure_json_when_the_builder_prints(
    world: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def noisy_build(cfg: Any) -> PipelineDefinition:
        print("sagemaker.config INFO - Not applying SDK defaults")
        return PipelineDefinition("moonpipe", "moons", '{"Steps": []}')

    # the real cli.build_definition wrapper, around a fake definition module
    monkeypatch.setitem(
        sys.modules, "pipeline.assembly.builder", SimpleNamespace(build_pipeline=noisy_build)
    )
    services = replace(world.services, build_pipeline=cli.build_definition)
    code, out, err = run(["--definition", "--json"], capsys, services)
    assert (code, out) == (0, '{"Steps": []}\n')
    assert err == "sagemaker.config INFO - Not applying SDK defaults\n"


@pytest.mark.e2e
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


@pytest.mark.e2e
def test_sigterm_is_ctrl_c_only_while_main_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signal
    import threading

    seen: list[Any] = []
    before = signal.getsignal(signal.SIGTERM)
    store = ["--target", "local", "--store", str(tmp_path / "store")]

    real = cli.run

    def spy(args: Any, console: Any, services: Any = None) -> int:
        seen.append(signal.getsignal(signal.SIGTERM))
        return real(args, console, services)

    monkeypatch.setattr(cli, "run", spy)
    assert run_pipeline.main(["--list-executions", *store]) == 0
    codes: list[int] = []
    worker = threading.Thread(
        target=lambda: codes.append(run_pipeline.main(["--list-executions", *store]))
    )
    worker.start()
    worker.join()
    assert seen[0] is unwind_like_ctrl_c
    assert seen[1] is before and codes == [0]  # off the main thread: left alone, no error
    assert signal.getsignal(signal.SIGTERM) is before


# Fresh processes on a real store: what `make run` twice and parallel shells do.

LOCAL_ARN = "arn:aws:sagemaker:us-east-1:000000000000:pipeline/moonpipe"


def start_cli(argv: list[str], **env: str) -> subprocess.Popen[str]:
    """run_pipeline.py in a fresh interpreter, the way a person runs it."""
    return subprocess.Popen(
        [sys.executable, str(REPO / "run_pipeline.py"), *argv],
        cwd=REPO,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=600)
    return proc.returncode, out, err


def changed_config(tmp_path: Path) -> Path:
    """The shipped config with another Epochs default: a different definition."""
    text = (REPO / "config" / "pipeline.yaml").read_text()
    assert "epochs: 100" in text
    path = tmp_path / "pipeline.yaml"
    path.write_text(text.replace("epochs: 100", "epochs: 7"))
    return path


def stored_versions(store: Path) -> dict[int, str]:
    folder = store / "pipelines" / "moonpipe" / "versions"
    loaded = [json.loads(p.read_text()) for p in folder.glob("*.json")]
    return {d["Version"]: d["PipelineDefinition"] for d in loaded}


def objects_state(store: Path) -> dict[Path, tuple[int, int]]:
    files = (p for p in (store / "s3").rglob("*") if p.is_file())
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in files}


@pytest.mark.e2e
def test_a_second_upsert_changes_nothing_and_a_changed_one_stores_a_version(
    tmp_path: Path,
) -> None:
    store = str(tmp_path / "store")
    code, out, err = finish(start_cli(["--upsert", "--store", store, "--json"]))
    assert code == 0, err
    assert json.loads(out) == {
        "store": store,
        "pipeline_name": "moonpipe",
        "pipeline_arn": LOCAL_ARN,
        "changed": True,
        "version": 1,
    }
    before = objects_state(tmp_path / "store")
    assert len(before) == 3  # two scripts and sourcedir.tar.gz
    assert finish(start_cli(["--upsert", "--store", store])) == (
        0,
        "pipeline moonpipe unchanged on local (version 1 is this definition; nothing "
        f"written): {LOCAL_ARN}\nstore: {store}\n",
        "",
    )
    assert objects_state(tmp_path / "store") == before
    assert list(stored_versions(tmp_path / "store")) == [1]
    config = str(changed_config(tmp_path))
    code, out, err = finish(start_cli(["--upsert", "--store", store, "--config", config, "--json"]))
    assert (code, json.loads(out)["changed"], json.loads(out)["version"]) == (0, True, 2), err
    versions = stored_versions(tmp_path / "store")
    assert sorted(versions) == [1, 2] and versions[1] != versions[2]
    assert '"DefaultValue": 7' in versions[2]


@pytest.mark.e2e
def test_parallel_upserts_on_one_store_never_fail(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    config = str(changed_config(tmp_path))
    configs = [[], ["--config", config]] * 3
    procs = [start_cli(["--upsert", "--store", store, "--json", *extra]) for extra in configs]
    results = [finish(proc) for proc in procs]
    assert [code for code, _, _ in results] == [0] * 6, [err for _, _, err in results]
    versions = stored_versions(tmp_path / "store")
    assert sorted(versions) == list(range(1, len(versions) + 1))
    reported = [json.loads(out)["version"] for _, out, _ in results]
    default_defs = {versions[v] for v in reported[0::2]}
    changed_defs = {versions[v] for v in reported[1::2]}
    assert len(default_defs) == len(changed_defs) == 1 and default_defs != changed_defs
    assert set(versions.values()) == default_defs | changed_defs
    assert all(versions[n] != versions[n + 1] for n in range(1, len(versions)))


# One line, never a traceback (fresh processes, as a person meets them).

ROLE_ARN = "arn:aws:iam::123456789012:role/MoonpipeSageMaker"


def without_aws(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment minus every AWS_* variable, with empty AWS files, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_CONFIG_FILE"] = str(tmp_path / "aws-config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "aws-credentials")
    return {**env, **extra}


def run_clean(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, str(REPO / "run_pipeline.py"), *argv],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    return done.returncode, done.stdout, done.stderr


@pytest.mark.e2e
def test_a_missing_aws_profile_is_one_line_saying_how_to_fix(tmp_path: Path) -> None:
    env = without_aws(tmp_path, AWS_PROFILE="ml")
    argv = ["--target", "sagemaker", "--region", "eu-west-1", "--list-executions"]
    assert run_clean(argv, env) == (
        2,
        "",
        "error: AWS profile 'ml' (from AWS_PROFILE) is not in your AWS config or credentials "
        "files; create it (aws configure --profile ml) or unset AWS_PROFILE\n",
    )


@pytest.mark.e2e
def test_a_region_without_the_images_is_one_config_line(tmp_path: Path) -> None:
    argv = [
        "--target",
        "sagemaker",
        "--region",
        "ap-southeast-7",
        "--role-arn",
        ROLE_ARN,
        "--definition",
    ]
    assert run_clean(argv, without_aws(tmp_path)) == (
        2,
        "",
        "error: aws.region ap-southeast-7: SageMaker offers no sagemaker-scikit-learn 1.2-1 "
        "image there (SDK: Unsupported region: ap-southeast-7); choose a region that has it "
        "(--region or aws.region, e.g. us-east-1) or another frameworks.sklearn_version\n",
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--invoke", "bad_name!", "--data", "{data}"],
            "invalid endpoint name 'bad_name!': use "
            "1-63 letters, digits and hyphens, starting with a letter or digit",
        ),
        (
            ["--delete-endpoint", "bad_name!"],
            "invalid endpoint name 'bad_name!': use 1-63 "
            "letters, digits and hyphens, starting with a letter or digit",
        ),
        (
            ["--invoke", "nosuch", "--data", "{data}"],
            "endpoint 'nosuch' does not exist; run --list-endpoints to see the endpoints there are",
        ),
        (
            ["--delete-endpoint", "nosuch"],
            "endpoint 'nosuch' does not exist; run --list-endpoints to see the endpoints there are",
        ),
        (
            ["--invoke", "nosuch", "--data", "{missing}"],
            "--data {missing}: cannot read it (No such file or directory); give a CSV file or -",
        ),
    ],
)
@pytest.mark.e2e
def test_endpoint_usage_errors_exit_2(tmp_path: Path, argv: list[str], message: str) -> None:
    data = tmp_path / "points.csv"
    data.write_text("0.0,0.9\n")
    paths = {"data": str(data), "missing": str(tmp_path / "missing.csv")}
    argv = [a.format(**paths) for a in argv] + ["--store", str(tmp_path / "store")]
    assert run_clean(argv, without_aws(tmp_path)) == (2, "", f"error: {message.format(**paths)}\n")


@pytest.mark.e2e
@pytest.mark.parametrize("argv", [["--list-executions", "--json"], ["--list-endpoints"]])
def test_output_into_a_pipe_whose_reader_left_ends_quietly(tmp_path: Path, argv: list[str]) -> None:
    proc = start_cli([*argv, "--store", str(tmp_path / "store")], **without_aws(tmp_path))
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `| head` having read its lines and exited
    err = proc.stderr.read()
    assert (proc.wait(timeout=600), err) == (0, "")


@pytest.mark.e2e
def test_follow_prints_job_output_indented_under_its_step(
    world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["--start", "--follow", "--json"], capsys, world.services)
    assert code == 0 and json.loads(out)["status"] == "Succeeded"
    assert err.splitlines()[1:4] == [
        "  started    PrepareMoonData (Processing)",
        "      | wrote 450 train rows",
        "  succeeded  PrepareMoonData (Processing)  2.0 s",
    ]


@pytest.mark.e2e
def test_without_follow_no_job_output_is_printed(
    world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["--start", "--json"], capsys, world.services)
    assert code == 0 and "wrote 450" not in err


@pytest.mark.e2e
def test_follow_on_sagemaker_is_a_usage_error(
    world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    world.cfg = fake_config(target="sagemaker", role_arn="arn:r")
    world.target = FakeTarget(name="sagemaker", foreground=False)
    code, out, err = run(["--start", "--follow"], capsys, world.services)
    assert (code, out) == (2, "")
    assert err == (
        "error: --follow shows local jobs' output as they run; on SageMaker a job's log is in "
        "CloudWatch (see --describe-execution); drop --follow\n"
    )
    assert world.target.calls == []


@pytest.mark.e2e
def test_stop_host_is_for_the_local_target_only(
    world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    world.target = FakeTarget(name="sagemaker", foreground=False)
    code, out, err = run(["--stop-host"], capsys, world.services)
    assert (code, out) == (2, "")
    assert err == ("error: --stop-host is for the local target (SageMaker runs no warm host)\n")


@pytest.mark.e2e
def test_stop_host_says_whether_a_host_was_running(
    world: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    stopped = iter([4242, None])
    world.target.stop_warm_host = lambda: next(stopped)
    assert run(["--stop-host"], capsys, world.services)[:2] == (0, "warm host (pid 4242) stopped\n")
    assert json.loads(run(["--stop-host", "--json"], capsys, world.services)[1]) == {
        "store": STORE,
        "warm_host": {"stopped": False, "pid": None},
    }


@pytest.mark.parametrize(
    ("target", "flags", "calls"),
    [
        ("sagemaker", ["--wait"], ["retry", "parameters", "wait"]),  # followed to its end
        ("sagemaker", [], ["retry", "parameters", "describe"]),  # described once, as --start
        ("local", [], ["retry", "parameters", "wait"]),  # runs here, --wait or not
    ],
)
def test_retry_with_wait_is_accepted_and_follows_on_the_service(
    world: SimpleNamespace,
    capsys: pytest.CaptureFixture[str],
    target: str,
    flags: list[str],
    calls: list[str],
) -> None:
    """Issue 20: --retry ID --wait was refused ("--wait cannot be combined with --retry")."""
    world.target = FakeTarget(name=target, foreground=target == "local")
    code, out, err = run(["--retry", "abc123", *flags], capsys, world.services)
    assert code == 0, err
    assert names(world.target) == calls
    assert out.startswith(f"retrying execution {ARN}/execution/abc123\n")


def test_ctrl_c_while_the_flags_are_parsed_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The fault script killed a sweep under load while its CLI still imported: the
    KeyboardInterrupt escaped main() as a traceback. Nothing had started."""
    import pipeline.flags

    def interrupted(argv: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline.flags, "parse", interrupted)
    assert run_pipeline.main(["--sweep", "HiddenDim=8,16"]) == run_pipeline.EXIT_INTERRUPTED
    out, err = capsys.readouterr()
    assert (out, err) == ("", "error: interrupted before anything was started\n")


@pytest.mark.e2e
@pytest.mark.parametrize("signum", [2, 15], ids=["SIGINT", "SIGTERM"])
def test_a_signal_while_the_cli_starts_up_is_never_a_traceback(tmp_path: Path, signum: int) -> None:
    """The fault script's kills 0.08 s and 0.22 s after a start landed in the interpreter's
    imports, before main() had its handlers: two KeyboardInterrupt tracebacks. At every
    early moment a signal ends the CLI with one line (or the command had already ended)."""
    import time

    said_one_line = 0
    for delay in (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3):
        process = subprocess.Popen(
            [sys.executable, "run_pipeline.py", "--store", str(tmp_path / "s"), "--definition"],
            cwd=Path(run_pipeline.__file__).parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(delay)
        process.send_signal(signum)
        _, err = process.communicate(timeout=120)
        said_one_line += err.strip() == "error: interrupted before anything was started"
        if _before_the_early_handler(err):
            continue  # still in the interpreter's own start-up, before any line of ours
        assert "Traceback" not in err, (delay, err)  # (a bare "KeyboardInterrupt" line and
        # exit 1 is Python's own start-up too, before run_pipeline.py runs)
    assert said_one_line, "no delay reached the CLI's own handlers"


@pytest.mark.e2e
def test_a_cli_started_with_ctrl_c_ignored_keeps_ignoring_it(tmp_path: Path) -> None:
    """A command started by ``nohup`` or with ``&`` from a script inherits SIGINT ignored, as
    Python itself leaves it; the early handler used to turn Ctrl-C back on there."""
    import time

    ignoring = (
        "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
        "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
    )
    argv = ["run_pipeline.py", "--store", str(tmp_path / "s"), "--definition"]
    process = subprocess.Popen(
        [sys.executable, "-c", ignoring, *argv],
        cwd=Path(run_pipeline.__file__).parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for _ in range(10):
        time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert (process.returncode, err) == (0, ""), err
    assert json.loads(out)["Version"]


def _before_the_early_handler(err: str) -> bool:
    """A traceback with no frame in the checkout (the interpreter's own start-up: site, the
    standard streams, the argv[0] check) or whose only frames of ours lie above the line of
    run_pipeline.py that installs the early handler (``import os, signal``): windows no
    Python code of ours can close. Any frame of ours below that line is a real failure."""
    source = Path(run_pipeline.__file__).read_text().splitlines()
    installed = next(n for n, line in enumerate(source, 1) if "SIGINT, _interrupted_early" in line)
    checkout = Path(run_pipeline.__file__).parent
    frames = re.findall(r'File "([^"]+)", line (\d+)', err)
    ours = [(Path(name), int(line)) for name, line in frames if _in_checkout(Path(name), checkout)]
    if not ours:
        return True  # no frame of ours: Python's start-up (site, streams, the argv[0] check)
    early = [line for name, line in ours if name.name == "run_pipeline.py" and line < installed]
    return len(early) == len(ours)


def _in_checkout(path: Path, checkout: Path) -> bool:
    """Moonpipe's own code: under the checkout but not its virtualenv (whose site-packages
    the interpreter's start-up imports)."""
    return path.is_relative_to(checkout) and not path.is_relative_to(checkout / ".venv")


LEAVES = """
import atexit, sys, threading, time
sys.path.insert(0, sys.argv[1])
import run_pipeline
atexit.register(print, "at exit")
threading.Thread(target=lambda: (time.sleep(0.2), print("thread done"))).start()
print("out")
run_pipeline.leave(3)
"""


def test_leaving_joins_threads_runs_atexit_flushes_and_keeps_the_exit_code() -> None:
    """The CLI ends without tearing the interpreter down, but as an exit would end it."""
    done = subprocess.run(
        [sys.executable, "-c", LEAVES, str(REPO)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout == "out\nthread done\nat exit\n"


def test_under_a_profiler_the_cli_exits_the_usual_way(tmp_path: Path) -> None:
    """A profile (or coverage) is written at the interpreter's real exit: not skipped."""
    profile = tmp_path / "cli.prof"
    done = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(profile), "run_pipeline.py", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert profile.stat().st_size > 0


COLLECTS = """
import atexit, gc, runpy, sys
atexit.register(lambda: print(gc.isenabled(), gc.get_freeze_count() > 1000))
sys.argv = ["run_pipeline.py", *sys.argv[1:]]
runpy.run_path("run_pipeline.py", run_name="__main__")
"""


def test_the_cli_collects_once_its_imports_are_done_and_leaves_them_out(tmp_path: Path) -> None:
    """Started as the CLI, no collection passes over its imports: they are frozen once the
    command is parsed, and the collector runs from then on (a sweep or --ui lives long)."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            COLLECTS,
            "--target",
            "local",
            "--store",
            str(tmp_path),
            "--list-executions",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "True True"
