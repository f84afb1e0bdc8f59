"""The report model for succeeded, failed, cached, condition-false and running executions."""

from __future__ import annotations

from typing import Any

from pipeline.core.records import StepRecord
from pipeline.report.report_model import Report, build_report
from tests.pipeline.report.facts import QUALITY, facts, record, upstream_steps

HOSTING = ["Reg-RegisterModel", "Cre-CreateModel", "Cfg", "Deploy"]


def _status(report: Report) -> dict[str, str]:
    return {s.name: s.status for s in report.steps}


def _succeeded() -> Report:
    hosting: list[tuple[StepRecord, Any]] = [
        (
            record("Reg-RegisterModel", "RegisterModel", "Succeeded", 8),
            {
                "ModelPackageArn": "arn:pkg/grp/3",
                "ModelPackageGroupName": "grp",
                "ModelPackageVersion": 3,
                "ModelApprovalStatus": "Approved",
            },
        ),
        (record("Cre-CreateModel", "Model", "Succeeded", 9), {"ModelName": "m"}),
        (record("Cfg", "EndpointConfig", "Succeeded", 10), {"EndpointConfigName": "cfg-e1"}),
        (
            record("Deploy", "Endpoint", "Succeeded", 11),
            {
                "EndpointArn": "arn:ep",
                "EndpointName": "ep",
                "EndpointStatus": "InService",
                "EndpointUrl": "http://127.0.0.1:9/",
            },
        ),
    ]
    return build_report(
        facts(
            [*upstream_steps(), *hosting],
            quality_report=QUALITY,
            quality_report_uri="s3://bkt/eval/evaluation.json",
            parameters={
                "HiddenDim": 40,
                "Rows": 3,
                "Accuracy": 0.9,
                "Threshold": 0.5,
                "EndpointName": "ep",
            },
        )
    )


def test_succeeded_execution_shows_every_step_metrics_package_and_endpoint() -> None:
    report = _succeeded()
    assert [s.name for s in report.steps] == ["Prep", "Train", "Eval", "Check", *HOSTING, "TooLow"]
    assert _status(report) == {
        **{n: "Succeeded" for n in ["Prep", "Train", "Eval", "Check", *HOSTING]},
        "TooLow": "Untaken",  # the else branch: not the same words as a step never reached
    }
    assert report.metrics == {
        "accuracy": 0.9,
        "precision": 0.8,
        "recall": 0.95,
        "f1": 0.87,
        "auc": 0.93,
    }
    assert report.confusion_matrix["1"]["1"] == 75
    assert report.roc["true_positive_rates"] == [0.0, 0.9, 1.0]
    assert report.training_series == {"train:loss": [0.9, 0.5, 0.3]}
    assert report.training_final == {"train:loss": 0.3}
    assert report.model_package is not None
    assert (
        report.model_package.group,
        report.model_package.version,
        report.model_package.approval_status,
    ) == ("grp", 3, "Approved")
    assert report.endpoint is not None
    assert (report.endpoint.name, report.endpoint.status, report.endpoint.url) == (
        "ep",
        "InService",
        "http://127.0.0.1:9/",
    )
    assert report.duration_s == 30.0
    assert report.quality_report_uri == "s3://bkt/eval/evaluation.json"


def test_parameters_mark_overrides_against_the_definition_defaults() -> None:
    report = _succeeded()
    assert report.overridden() == {"HiddenDim": 40}
    row = next(p for p in report.parameters if p.name == "HiddenDim")
    assert (row.type, row.default, row.value, row.overridden) == ("Integer", 20, 40, True)
    threshold = next(p for p in report.parameters if p.name == "Threshold")
    assert not threshold.overridden


def test_step_request_is_the_resolved_arguments_and_outputs_the_rest() -> None:
    train = next(s for s in _succeeded().steps if s.name == "Train")
    assert '"hidden_dim": "40"' in train.request  # resolved, not the {"Std:Join": ...}
    assert "S3ModelArtifacts" in train.outputs and "HyperParameters" not in train.outputs
    not_run = next(s for s in _succeeded().steps if s.name == "TooLow")
    assert "Std:Join" in not_run.request and not_run.outputs == ""


def test_failed_execution_shows_the_reason_and_nothing_downstream_ran() -> None:
    steps = [
        (record("Prep", "Processing", "Succeeded", 0), {}),
        (
            record(
                "Train", "Training", "Failed", 2, failure_reason="diverged", log_path="/x/Train.log"
            ),
            None,
        ),
    ]
    report = build_report(
        facts(
            steps,
            status="Failed",
            failure_reason="step Train failed: diverged",
            log_tails={"Train": ["epoch=1 train_loss=nan"]},
        )
    )
    assert report.failure_reason == "step Train failed: diverged"
    status = _status(report)
    assert (status["Prep"], status["Train"]) == ("Succeeded", "Failed")
    assert {status[n] for n in ["Eval", "Check", *HOSTING, "TooLow"]} == {"NotRun"}
    train = next(s for s in report.steps if s.name == "Train")
    assert train.failure_reason == "diverged"
    assert train.log_tail == ("epoch=1 train_loss=nan",)
    assert report.metrics == {} and report.model_package is None and report.endpoint is None


def test_cached_step_names_the_execution_it_came_from() -> None:
    steps = upstream_steps()
    steps[0] = (
        record(
            "Prep",
            "Processing",
            "Succeeded",
            0,
            cache_hit=True,
            metadata={"SourceExecutionId": "older1"},
        ),
        {},
    )
    prep = build_report(facts(steps, status="Executing")).steps[0]
    assert (prep.cache_hit, prep.source_execution) == (True, "older1")
    train = build_report(facts(steps, status="Executing")).steps[1]
    assert (train.cache_hit, train.source_execution) == (False, None)


def test_condition_false_runs_the_else_branch_and_shows_the_if_branch_as_not_run() -> None:
    steps = [
        *upstream_steps(branch=False),
        (
            record("TooLow", "Fail", "Failed", 8, failure_reason="accuracy 0.4 below 0.5"),
            {"ErrorMessage": "accuracy 0.4 below 0.5"},
        ),
    ]
    report = build_report(facts(steps, status="Failed", failure_reason="accuracy 0.4 below 0.5"))
    check = next(s for s in report.steps if s.name == "Check")
    assert check.branch is False
    status = _status(report)
    assert status["TooLow"] == "Failed"
    assert {status[n] for n in HOSTING} == {"Untaken"}


def test_still_running_execution_shows_the_running_step_and_what_is_still_to_come() -> None:
    steps = [
        (record("Prep", "Processing", "Succeeded", 0), {}),
        (record("Train", "Training", "Executing", 2), None),
    ]
    report = build_report(facts(steps, status="Executing"))
    assert report.status == "Executing" and report.duration_s is None
    train = next(s for s in report.steps if s.name == "Train")
    assert (train.status, train.duration_s) == ("Executing", None)
    assert _status(report)["Eval"] == "Pending"  # still to come, not "not run"
    assert _status(report)["TooLow"] == "Pending"  # the condition has not chosen yet


def test_a_starting_step_counts_as_executing() -> None:
    steps = [(record("Prep", "Processing", "Starting", 0), None)]
    assert _status(build_report(facts(steps, status="Executing")))["Prep"] == "Executing"
