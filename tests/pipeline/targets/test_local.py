"""LocalTarget end to end on a hand-made definition with tiny scripts and a fake endpoint:
every verb of the Target protocol, as the front calls it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.core.errors import ConfigError, ExecutionNotFoundError, ParameterError
from pipeline.core.records import Selection, StepRecord, UpsertResult
from pipeline.local.store.records import ExecutionRecord
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
    # Reg and Cre both wait only for the condition, so they run side by side (SageMaker runs
    # every step whose dependencies are met); Cre, already running, ends; nothing starts after
    ended = {(s.name, s.status) for s in summary.steps}
    assert {("Reg-RegisterModel", "Failed"), ("Cre-CreateModel", "Succeeded")} <= ended
    assert "Cfg" not in {s.name for s in summary.steps}
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
        "pipeline p: the local engine cannot run 1 step: Prep (Transform); the step types it "
        "runs are Processing, Training, Condition, Fail, RegisterModel, Model, EndpointConfig, "
        "Endpoint"
    )
    assert not (tmp_path / "pipelines").exists()


def test_unknown_execution_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ExecutionNotFoundError) as caught:
        LocalTarget(tmp_path).describe_execution("arn:x/execution/nope")
    assert str(caught.value) == "no local execution 'nope'; list them with --list-executions"


def test_one_command_parses_the_definition_once_and_reads_the_pipeline_once(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipeline.local.pipelines as local_module

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


# -- reusable_executions: only a whole, Succeeded run of the newest version with every
# -- parameter equal counts as a sweep point already done.


def _record(
    target: LocalTarget, execution_id: str, parameters: dict[str, Any], **fields: Any
) -> None:
    values = {"pipeline_version": 1, "status": "Succeeded", "parameters": parameters}
    values.update(fields)
    extra = values.pop("extra", {})
    target.records.save_execution(
        ExecutionRecord(
            pipeline_name="p",
            execution_id=execution_id,
            execution_arn=f"{target.pipelines.arn('p')}/execution/{execution_id}",
            started_at=f"2026-01-01T00:00:0{len(execution_id)}+00:00",
            extra=extra,
            **values,
        )
    )


def _upserted(tmp_path: Path) -> LocalTarget:
    target = LocalTarget(tmp_path / "store")
    target.upsert_pipeline(pipeline(), None)
    return target


def _resolved(target: LocalTarget, **overrides: Any) -> dict[str, Any]:
    return {
        p["Name"]: overrides.get(p["Name"], p["DefaultValue"])
        for p in target.pipeline_graph("p").parameters
    }


def test_only_a_whole_succeeded_run_of_the_newest_version_with_equal_values_is_reused(
    tmp_path: Path,
) -> None:
    target = _upserted(tmp_path)
    wanted = _resolved(target)
    other = {**wanted, next(iter(wanted)): "different"}
    _record(target, "failed", wanted, status="Failed")
    _record(target, "running", wanted, status="Executing")
    _record(target, "selective", wanted, extra={"selection": {"source_execution_id": "x"}})
    _record(target, "othervalues", other)
    assert target.reusable_executions("p", [wanted, other]) == [
        None,
        target.describe_execution("othervalues"),
    ]
    _record(target, "good", wanted)
    _record(target, "goodnewer", wanted)  # started later (a longer id): the newest is chosen
    found = target.reusable_executions("p", [wanted])
    assert [s.execution_id if s else None for s in found] == ["goodnewer"]


def test_a_run_of_an_older_pipeline_version_is_not_reused(tmp_path: Path) -> None:
    target = _upserted(tmp_path)
    wanted = _resolved(target)
    _record(target, "good", wanted)
    changed = copy.deepcopy(full_definition())
    changed["Steps"][0]["Arguments"]["AppSpecification"]["ContainerArguments"] = ["--v2"]
    assert target.upsert_pipeline(pipeline(changed), None).version == 2
    assert target.reusable_executions("p", [wanted]) == [None]


# -- the rest of the protocol: per-target verbs, facts, reports, registry ----------------------


def test_run_or_follow_runs_the_execution_here_whether_or_not_asked_to_wait(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    """There is no service to hand a local execution to: --start without --wait runs it."""
    target = LocalTarget(tmp_path, endpoints=fake_endpoints)
    target.upsert_pipeline(pipeline(), None)
    seen: list[StepRecord] = []
    summary = target.run_or_follow(target.start_execution("p", {}), False, seen.append)
    assert summary.status == "Succeeded", summary.failure_reason
    assert [r.name for r in seen][:2] == ["Prep", "Prep"]
    again = target.run_or_follow(summary.execution_arn, True, seen.append)
    assert again == target.describe_execution(summary.execution_id)  # ended: only described


def test_checks_that_guard_other_targets_refuse_nothing_here(tmp_path: Path) -> None:
    target = LocalTarget(tmp_path)
    target.check_upsert_settings(None)  # no role needed
    target.check_follow()  # job output streams
    assert target.notes == [] and not tmp_path.joinpath("pipelines").exists()
    assert target.default_parallel in (1, 2)


def test_a_selective_start_runs_only_the_selection_and_reuses_what_it_needs(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    target = LocalTarget(tmp_path, endpoints=fake_endpoints)
    target.upsert_pipeline(pipeline(), None)
    source, _ = _run(target)
    arn = target.start_execution("p", {}, selection=Selection(("Eval",), source.execution_id))
    summary = target.wait(arn, lambda record: None)
    assert summary.status == "Succeeded", summary.failure_reason
    steps = {s.name: s for s in summary.steps}
    assert sorted(steps) == ["Eval", "Prep", "Train"]
    assert steps["Train"].metadata["ReusedBySelectionFrom"] == source.execution_id
    assert "ReusedBySelectionFrom" not in steps["Eval"].metadata


def test_a_steps_log_is_read_from_an_offset_and_a_step_without_a_job_says_so(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    target = LocalTarget(tmp_path, endpoints=fake_endpoints)
    target.upsert_pipeline(pipeline(), None)
    summary, _ = _run(target)
    whole = target.step_log(summary.execution_id, "Train")
    assert whole.complete and whole.path is not None and whole.note == ""
    assert whole.text.splitlines()[-1] == "epoch=2 train_loss=0.5"
    assert whole.text == Path(whole.path).read_text(encoding="utf-8")
    rest = target.step_log(summary.execution_arn, "Train", offset=len(whole.text) - 5)
    assert rest.text == whole.text[-5:]
    register = next(s.name for s in summary.steps if s.step_type == "RegisterModel")
    no_job = target.step_log(summary.execution_id, register)
    assert (no_job.text, no_job.path, no_job.note) == (
        "",
        None,
        f"step {register} runs no job: no log",
    )
    unknown = target.step_log(summary.execution_id, "Nope")
    assert (unknown.text, unknown.complete, unknown.note) == (
        "",
        False,
        "step Nope has not started",
    )


def test_metrics_facts_and_data_come_from_the_store(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    target = LocalTarget(tmp_path, endpoints=fake_endpoints)
    target.upsert_pipeline(pipeline(), None)
    summary, _ = _run(target)
    assert target.execution_metrics(summary.execution_arn) == dict(summary.metrics)
    facts = target.execution_facts(summary.execution_id)
    assert (facts.target, facts.status, facts.execution_arn) == (
        "local",
        "Succeeded",
        summary.execution_arn,
    )
    assert [record.name for record, _ in facts.steps] == [s.name for s in summary.steps]
    assert facts.quality_report_uri == summary.quality_report_uri
    assert facts.quality_report is not None and "binary_classification_metrics" in (
        facts.quality_report
    )
    assert json.loads(facts.definition)["Version"] == "2020-12-01"
    assert facts.log_tails["Train"][-1] == "epoch=2 train_loss=0.5"
    data = target.execution_data(summary.execution_arn)
    run = tmp_path / "executions" / summary.execution_id
    assert data.keep_dir == run and data.note == ""
    assert data.model_file is not None and data.model_file.name == "model.tar.gz"
    assert data.model_file.is_file() and str(data.model_artifact).startswith("s3://")
    assert data.train is None  # the hand-made data step writes two columns, not label,x,y


def test_an_execution_without_a_model_says_so_in_its_data(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    definition = full_definition()
    definition["Steps"] = definition["Steps"][:1]
    target = LocalTarget(tmp_path, endpoints=fake_endpoints)
    target.upsert_pipeline(pipeline(definition), None)
    summary, _ = _run(target)
    data = target.execution_data(summary.execution_id)
    assert (data.model_file, data.note) == (None, "no trained model in this execution")


def test_pages_live_in_the_store(tmp_path: Path) -> None:
    target = LocalTarget(tmp_path)
    assert target.report_path("abc") == target.store_root / "executions" / "abc" / "report.html"
    assert target.comparison_path(["abc", "def"]) == (
        target.store_root / "comparisons" / "abc-vs-def.html"
    )


class _Keeper:
    """A ReportKeeper that records what it is asked to draw."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def follow(self, store_root: Path, execution_id: str, notes: list[str]) -> Any:
        self.calls.append(("follow", store_root, execution_id))
        return self

    def refresh(self, final: bool = True) -> None:
        self.calls.append(("refresh", final))

    def draw_later(
        self,
        store_root: Path,
        execution_ids: Any,
        comparison: Path | None,
        pages: Any,
        notes: list[str],
    ) -> None:
        notes.append("drawn later")
        self.calls.append(("later", store_root, list(execution_ids), comparison, list(pages)))


def test_the_report_keeper_is_the_fronts(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    keeper = _Keeper()
    target = LocalTarget(tmp_path, endpoints=fake_endpoints, reports=keeper)
    target.upsert_pipeline(pipeline(), None)
    summary, _ = _run(target)
    assert keeper.calls[0] == ("follow", tmp_path, summary.execution_id)
    refreshes = [c for c in keeper.calls if c[0] == "refresh"]
    assert refreshes[-1] == ("refresh", True) and ("refresh", False) in refreshes
    keeper.calls.clear()
    out = tmp_path / "c.html"
    target.draw_pages_later(["a", "b"], out, ["b"])
    assert keeper.calls == [("later", tmp_path, ["a", "b"], out, ["b"])]
    assert target.notes == ["drawn later"]
    bare = LocalTarget(tmp_path, endpoints=fake_endpoints)  # no keeper: no page, no note
    bare.draw_pages_later(["a", "b"], out, ["b"])
    assert bare.notes == [] and summary.report is None
    assert not list(tmp_path.glob("executions/*/report.html"))


def test_the_registry_lists_packages_newest_first_with_metrics_and_serving_endpoints(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    target = LocalTarget(tmp_path, endpoints=fake_endpoints)
    target.upsert_pipeline(pipeline(), None)
    first, _ = _run(target)
    second, _ = _run(target, HiddenDim=40)
    del fake_endpoints[:-1]  # the endpoint now serves the second run's config only
    packages = target.list_model_packages()
    assert [(p.version, p.execution_id) for p in packages] == [
        (2, second.execution_id),
        (1, first.execution_id),
    ]
    newest = packages[0]
    assert newest.arn == second.model_package_arn and newest.group == "grp"
    assert (newest.approval_status, newest.metrics) == ("Approved", {"accuracy": 0.9, "auc": 0.5})
    assert newest.endpoints == ("ep",) and packages[1].endpoints == ()
    assert newest.model_data_url != packages[1].model_data_url
    assert newest.created_at is not None
    assert target.list_model_packages("grp") == packages
    assert target.list_model_packages("other") == []


def test_point_runs_run_points_as_the_config_says(tmp_path: Path) -> None:
    runs = LocalTarget(tmp_path, job_start="warm", warm_idle_s=5.0).point_runs()
    assert (runs.store_root, runs.job_start, runs.idle_s) == (tmp_path, "warm", 5.0)
    assert runs.fork is True  # warm jobs fork: so may the points
