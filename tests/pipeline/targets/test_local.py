"""LocalTarget end to end on a hand-made definition with tiny scripts and a fake endpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.core.errors import ConfigError, ExecutionNotFoundError, ParameterError
from pipeline.core.records import StepRecord, UpsertResult
from pipeline.targets.local import LocalTarget
from tests.pipeline.local.local_defs import full_definition, pipeline


def _run(target: LocalTarget, **params: Any) -> tuple[Any, list[StepRecord]]:
    seen: list[StepRecord] = []
    arn = target.start_execution("p", params)
    return target.wait(arn, seen.append), seen


def test_full_run_reports_steps_metrics_package_and_endpoint(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    target = LocalTarget(tmp_path, endpoints=fake_endpoints)
    target.upsert_pipeline(pipeline(), None)
    summary, seen = _run(target)
    assert summary.status == "Succeeded", summary.failure_reason
    names = [
        "Prep",
        "Train",
        "Eval",
        "Check",
        "Reg-RegisterModel",
        "Cre-CreateModel",
        "Cfg",
        "Deploy",
    ]
    assert [s.name for s in summary.steps] == names
    assert [(r.name, r.status) for r in seen[:2]] == [("Prep", "Executing"), ("Prep", "Succeeded")]
    assert summary.metrics == {"accuracy": 0.9, "auc": 0.5, "train:loss": 0.5}
    assert summary.model_package_arn == (
        "arn:aws:sagemaker:us-east-1:000000000000:model-package/grp/1"
    )
    assert summary.endpoint is not None and summary.endpoint.name == "ep"
    assert summary.endpoint.url == "http://127.0.0.1:9/"
    [call] = fake_endpoints
    assert call["config"] == f"cfg-{summary.execution_id}"
    assert call["environment"] == {"SAGEMAKER_PROGRAM": "inference.py"}
    assert call["model_data"].name == "model.tar.gz" and call["model_data"].is_file()


def test_relative_store_root_runs_jobs_that_change_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_endpoints: list[dict[str, Any]]
) -> None:
    """The shipped config says `.moonpipe`: job paths must not be re-rooted in a job's cwd."""
    monkeypatch.chdir(tmp_path)
    target = LocalTarget(Path(".moonpipe"), endpoints=fake_endpoints)
    target.upsert_pipeline(pipeline(), None)
    summary, _ = _run(target)
    assert summary.status == "Succeeded", summary.failure_reason
    assert target.store_root == tmp_path / ".moonpipe"


def test_fail_branch_ends_execution_with_its_message(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    target = LocalTarget(tmp_path, endpoints=fake_endpoints)
    target.upsert_pipeline(pipeline(), None)
    summary, _ = _run(target, Threshold=0.95)
    assert summary.status == "Failed"
    assert summary.failure_reason == "accuracy 0.9 below 0.95"
    assert [s.name for s in summary.steps][-2:] == ["Check", "TooLow"]
    assert summary.model_package_arn is None and fake_endpoints == []


def test_records_survive_a_new_target_and_registry_keeps_versions(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    first = LocalTarget(tmp_path, endpoints=fake_endpoints)
    first.upsert_pipeline(pipeline(), None)
    one, _ = _run(first)
    two, _ = _run(first, HiddenDim=40)
    again = LocalTarget(tmp_path, endpoints=fake_endpoints)
    assert again.describe_execution(one.execution_arn).steps == one.steps
    assert again.describe_execution(two.execution_id).model_package_arn.endswith("/grp/2")
    assert [s.execution_id for s in again.list_executions("p")] == [
        two.execution_id,
        one.execution_id,
    ]
    versions = sorted((tmp_path / "registry" / "grp" / "versions").glob("*.json"))
    assert [json.loads(v.read_text())["ModelPackageVersion"] for v in versions] == [1, 2]
    assert again.wait(one.execution_arn, lambda r: None).status == "Succeeded"


def test_changing_only_hidden_dim_reuses_the_data_step(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    target = LocalTarget(tmp_path, endpoints=fake_endpoints)
    target.upsert_pipeline(pipeline(), None)
    _run(target)
    second, _ = _run(target, HiddenDim=40)
    third, _ = _run(target, HiddenDim=40)
    hits = {s.name: s.cache_hit for s in second.steps}
    assert hits["Prep"] is True and hits["Train"] is False
    assert {s.name: s.cache_hit for s in third.steps}["Train"] is True
    fourth, _ = _run(target, Rows=4)
    assert {s.name: s.cache_hit for s in fourth.steps}["Prep"] is False


def test_start_execution_rejects_bad_parameters(tmp_path: Path) -> None:
    target = LocalTarget(tmp_path)
    target.upsert_pipeline(pipeline(), None)
    with pytest.raises(ParameterError) as caught:
        target.start_execution("p", {"HiddenDim": "wide"})
    assert str(caught.value) == (
        "parameter HiddenDim is Integer; 'wide' is not a valid integer value "
        "(expected digits with an optional sign, e.g. 40 or -3)"
    )
    with pytest.raises(ParameterError):
        target.start_execution("p", {"Hidden": 3})
    assert target.list_executions("p") == []


def test_start_refuses_a_value_sagemaker_would_refuse_before_recording_anything(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    target = LocalTarget(tmp_path, endpoints=fake_endpoints)
    target.upsert_pipeline(pipeline(), None)
    with pytest.raises(ParameterError) as caught:
        target.start_execution("p", {"EndpointName": "my_endpoint"})
    assert str(caught.value) == (
        "--param EndpointName=my_endpoint: step Deploy, EndpointName: 'my_endpoint' does not "
        "match the pattern [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62} (SageMaker's CreateEndpoint)"
    )
    assert target.list_executions("p") == []
    assert not (tmp_path / "executions").exists() and not (tmp_path / "registry").exists()


def test_a_value_known_only_when_its_step_runs_fails_that_step_before_it_is_sent(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    """The approval status comes from a property file: only the second check can see it."""
    definition = full_definition()
    definition["Parameters"].append(
        {"Name": "Approval", "Type": "String", "DefaultValue": "Approved"}
    )
    definition["Steps"][2]["Arguments"]["Environment"]["APPROVAL"] = {"Get": "Parameters.Approval"}
    register = definition["Steps"][3]["Arguments"]["IfSteps"][0]["Arguments"]
    register["ModelApprovalStatus"] = {
        "Std:JsonGet": {
            "PropertyFile": {"Get": "Steps.Eval.PropertyFiles.Report"},
            "Path": "approval",
        }
    }
    target = LocalTarget(tmp_path, endpoints=fake_endpoints)
    target.upsert_pipeline(pipeline(definition), None)
    summary, _ = _run(target, Approval="approved")
    assert summary.status == "Failed"
    assert summary.failure_reason == (
        "step Reg-RegisterModel failed: SageMaker's CreateModelPackage would refuse this "
        "request: ModelApprovalStatus: 'approved' is not one of Approved, Rejected, "
        "PendingManualApproval"
    )
    assert [(s.name, s.status) for s in summary.steps][-1] == ("Reg-RegisterModel", "Failed")
    assert summary.model_package_arn is None and fake_endpoints == []
    assert not (tmp_path / "registry").exists()
    assert _run(target, Approval="Approved")[0].status == "Succeeded"


def test_names_the_engine_generates_pass_the_gate_when_later_steps_send_them(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    """A Model step named with "_": its generated ModelName travels in the endpoint config."""
    text = json.dumps(full_definition()).replace("Cre-CreateModel", "Cre_CreateModel")
    target = LocalTarget(tmp_path, endpoints=fake_endpoints)
    target.upsert_pipeline(pipeline(json.loads(text)), None)
    summary, _ = _run(target)
    assert summary.status == "Succeeded", summary.failure_reason


def test_upsert_keeps_every_definition_version(tmp_path: Path) -> None:
    target = LocalTarget(tmp_path)
    arn = "arn:aws:sagemaker:us-east-1:000000000000:pipeline/p"
    assert target.upsert_pipeline(pipeline(), None) == UpsertResult(arn, True, 1)
    assert target.upsert_pipeline(pipeline(), None) == UpsertResult(arn, False, 1)
    changed = full_definition()
    changed["Parameters"][0]["DefaultValue"] = 30
    assert target.upsert_pipeline(pipeline(changed), None) == UpsertResult(arn, True, 2)
    versions = sorted(p.name for p in (tmp_path / "pipelines" / "p" / "versions").iterdir())
    assert versions == ["1.json", "2.json"]
    assert target.pipeline_parameters("p")[0] == {
        "Name": "HiddenDim",
        "Type": "Integer",
        "DefaultValue": 30,
    }


def test_upsert_rejects_unknown_step_types_and_cycles(tmp_path: Path) -> None:
    target = LocalTarget(tmp_path)
    bad = full_definition()
    bad["Steps"][0]["Type"] = "Transform"
    with pytest.raises(ConfigError) as caught:
        target.upsert_pipeline(pipeline(bad), None)
    assert str(caught.value) == (
        "pipeline p: the local engine cannot run step type Transform; supported: Processing, "
        "Training, Condition, Fail, RegisterModel, Model, EndpointConfig, Endpoint"
    )
    assert not (tmp_path / "pipelines").exists()


def test_unknown_execution_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ExecutionNotFoundError) as caught:
        LocalTarget(tmp_path).describe_execution("arn:x/execution/nope")
    assert str(caught.value) == "no local execution 'nope'; list them with --list-executions"


def test_one_command_parses_the_definition_once_and_reads_the_pipeline_once(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipeline.targets.local as local_module

    parsed: list[str] = []
    real_parse = local_module.parse_definition
    monkeypatch.setattr(
        local_module, "parse_definition", lambda text: parsed.append(text) or real_parse(text)
    )
    target = LocalTarget(tmp_path, endpoints=fake_endpoints)
    reads: list[tuple[str, int | None]] = []
    real_read = target.records.pipeline

    def counting_read(name: str, version: int | None = None) -> dict[str, Any]:
        reads.append((name, version))
        return real_read(name, version)

    monkeypatch.setattr(target.records, "pipeline", counting_read)
    target.upsert_pipeline(pipeline(), None)  # --upsert --start --wait, as the CLI calls it
    target.pipeline_parameters("p")
    summary, _ = _run(target)
    assert summary.status == "Succeeded", summary.failure_reason
    assert len(parsed) == 1
    assert reads == []  # the upsert stored it: nothing to read back
    parsed.clear()
    again = LocalTarget(tmp_path, endpoints=fake_endpoints)  # a later --start alone
    monkeypatch.setattr(again.records, "pipeline", counting_read)
    again.pipeline_parameters("p")
    _run(again)
    assert len(parsed) == 1 and reads == [("p", None)]


def test_on_line_gets_each_job_line_with_its_step_as_it_runs(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    lines: list[tuple[str, str]] = []
    target = LocalTarget(
        tmp_path, endpoints=fake_endpoints, on_line=lambda s, x: lines.append((s, x))
    )
    target.upsert_pipeline(pipeline(), None)
    summary, _ = _run(target)
    assert summary.status == "Succeeded", summary.failure_reason
    steps = [step for step, _ in lines]
    assert {"Prep", "Train"} <= set(steps)
    assert steps.index("Prep") < steps.index("Train")  # live, in run order
    for step in ("Prep", "Train"):
        logged = tmp_path / "executions" / summary.execution_id / "logs" / f"{step}.log"
        assert [x for s, x in lines if s == step] == logged.read_text().splitlines()
