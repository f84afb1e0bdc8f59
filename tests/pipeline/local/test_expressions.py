"""The expression language on its own: Get, Std:Join, Std:JsonGet and conditions."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.local.expressions import (
    Pending,
    Scope,
    UnresolvedReference,
    evaluate_condition,
    evaluate_conditions,
    resolve,
)

REPORT_URI = "s3://b/exec/Eval/output/evaluation/evaluation.json"
STEPS = {
    "Prep": {
        "ProcessingOutputConfig": {
            "Outputs": [
                {"OutputName": "train", "S3Output": {"S3Uri": "s3://b/x/train"}},
                {"OutputName": "test", "S3Output": {"S3Uri": "s3://b/x/test"}},
            ]
        },
    },
    "Train": {
        "ModelArtifacts": {"S3ModelArtifacts": "s3://b/job/output/model.tar.gz"},
        "TrainingJobName": "job",
        "FinalMetricDataList": [{"MetricName": "train:loss", "Value": 0.25}],
    },
    "Eval": {"PropertyFiles": {"EvaluationReport": REPORT_URI}},
    "Reg": {"ModelPackageArn": "arn:aws:sagemaker:us-east-1:000000000000:model-package/g/1"},
}
REPORT = {"binary_classification_metrics": {"accuracy": {"value": 0.9}}, "list": [1, 2, 3]}


def _scope(**overrides: Any) -> Scope:
    def read(uri: str) -> Any:
        if uri != REPORT_URI:
            raise UnresolvedReference(uri, "missing")
        return REPORT

    base: dict[str, Any] = {
        "parameters": {"HiddenDim": 20, "Threshold": 0.8, "Name": "ep"},
        "execution": {
            "PipelineExecutionId": "abc123",
            "PipelineName": "p",
            "PipelineExecutionArn": "arn:x/execution/abc123",
            "PipelineArn": "arn:x",
            "StartDateTime": "2026-01-01T00:00:00",
        },
        "steps": STEPS,
        "read_json": read,
    }
    return Scope(**{**base, **overrides})


def _json_get(path: str) -> dict[str, Any]:
    return {
        "Std:JsonGet": {
            "PropertyFile": {"Get": "Steps.Eval.PropertyFiles.EvaluationReport"},
            "Path": path,
        }
    }


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"Get": "Parameters.HiddenDim"}, 20),
        ({"Get": "Execution.PipelineExecutionId"}, "abc123"),
        ({"Get": "Execution.PipelineExecutionArn"}, "arn:x/execution/abc123"),
        ({"Get": "Execution.StartDateTime"}, "2026-01-01T00:00:00"),
        ({"Get": "Execution.PipelineName"}, "p"),
        ({"Get": "Execution.PipelineArn"}, "arn:x"),
        (
            {"Get": "Steps.Prep.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"},
            "s3://b/x/test",
        ),
        ({"Get": "Steps.Prep.ProcessingOutputConfig.Outputs[0].S3Output.S3Uri"}, "s3://b/x/train"),
        ({"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}, "s3://b/job/output/model.tar.gz"),
        ({"Get": "Steps.Train.FinalMetricDataList['train:loss'].Value"}, 0.25),
        ({"Get": "Steps.Train.TrainingJobName"}, "job"),
        (
            {"Get": "Steps.Reg.ModelPackageArn"},
            "arn:aws:sagemaker:us-east-1:000000000000:model-package/g/1",
        ),
        (
            {
                "Std:Join": {
                    "On": "/",
                    "Values": [
                        "s3:/",
                        "b",
                        {"Get": "Execution.PipelineExecutionId"},
                        {"Get": "Parameters.HiddenDim"},
                    ],
                }
            },
            "s3://b/abc123/20",
        ),
        ({"Std:Join": {"On": "", "Values": [{"Get": "Parameters.HiddenDim"}]}}, "20"),
        (_json_get("binary_classification_metrics.accuracy.value"), 0.9),
        (_json_get("list[1]"), 2),
        ({"A": [{"Get": "Parameters.Name"}, 3], "B": "plain"}, {"A": ["ep", 3], "B": "plain"}),
    ],
)
def test_resolve(expression: Any, expected: Any) -> None:
    assert resolve(expression, _scope()) == expected


def test_a_callable_execution_variable_is_read_at_each_resolution() -> None:
    """CurrentDateTime: "the time when the variable is being evaluated" (SDK readthedocs)."""
    ticks = iter(["t1", "t2"])
    scope = Scope(execution={"CurrentDateTime": lambda: next(ticks)})
    expression = {"Get": "Execution.CurrentDateTime"}
    assert (resolve(expression, scope), resolve(expression, scope)) == ("t1", "t2")


EVAL_REPORT = "Steps.Eval.PropertyFiles.EvaluationReport"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"Get": "Parameters.HiddenDim"}, 20),
        ({"Get": "Execution.PipelineExecutionId"}, "abc123"),
        ({"Get": "Steps.Train.TrainingJobName"}, Pending("Steps.Train.TrainingJobName")),
        ({"Get": "Steps.NotRunYet.Anything"}, Pending("Steps.NotRunYet.Anything")),
        ({"Std:Join": {"On": "-", "Values": [{"Get": "Parameters.Name"}, "config"]}}, "ep-config"),
        (
            {
                "Std:Join": {
                    "On": "/",
                    "Values": [{"Get": "Parameters.Name"}, {"Get": "Steps.Train.TrainingJobName"}],
                }
            },
            Pending("Steps.Train.TrainingJobName"),
        ),
        (
            _json_get("binary_classification_metrics.accuracy.value"),
            Pending(f"Std:JsonGet {EVAL_REPORT} binary_classification_metrics.accuracy.value"),
        ),
        (
            {"A": [{"Get": "Parameters.Threshold"}, {"Get": "Steps.Reg.ModelPackageArn"}]},
            {"A": [0.8, Pending("Steps.Reg.ModelPackageArn")]},
        ),
    ],
)
def test_deferred_steps_resolve_everything_but_step_properties(
    expression: Any, expected: Any
) -> None:
    """Partial resolution (the API gate at --start): step properties stay Pending."""
    assert resolve(expression, _scope(defer_steps=True)) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ({"Get": "Parameters.Nope"}, "cannot resolve Parameters.Nope: no such pipeline parameter"),
        (
            {"Get": "Steps.Gone.X"},
            "cannot resolve Steps.Gone.X: step Gone has not run in this execution",
        ),
        (
            {"Get": "Steps.Prep.ProcessingOutputConfig.Outputs['val'].S3Output.S3Uri"},
            "cannot resolve Steps.Prep.ProcessingOutputConfig.Outputs['val'].S3Output.S3Uri: "
            "'val' not found",
        ),
        ({"Get": "Execution.Nope"}, "cannot resolve Execution.Nope: unknown execution variable"),
        (
            {"Get": "Other.X"},
            "cannot resolve Other.X: must start with Parameters., Execution. or Steps.",
        ),
        (
            _json_get("binary_classification_metrics.f1.value"),
            "cannot resolve Std:JsonGet Steps.Eval.PropertyFiles.EvaluationReport "
            "binary_classification_metrics.f1.value: 'f1' not found",
        ),
    ],
)
def test_unresolvable_references_name_the_reference(expression: Any, message: str) -> None:
    with pytest.raises(UnresolvedReference) as caught:
        resolve(expression, _scope())
    assert str(caught.value) == message


ACC = _json_get("binary_classification_metrics.accuracy.value")
THR = {"Get": "Parameters.Threshold"}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"Type": "GreaterThanOrEqualTo", "LeftValue": ACC, "RightValue": THR}, True),
        ({"Type": "GreaterThanOrEqualTo", "LeftValue": 0.8, "RightValue": THR}, True),
        ({"Type": "GreaterThan", "LeftValue": 0.8, "RightValue": THR}, False),
        ({"Type": "LessThan", "LeftValue": ACC, "RightValue": THR}, False),
        ({"Type": "LessThanOrEqualTo", "LeftValue": 0.8, "RightValue": THR}, True),
        ({"Type": "Equals", "LeftValue": {"Get": "Parameters.Name"}, "RightValue": "ep"}, True),
        ({"Type": "Equals", "LeftValue": 20, "RightValue": "20"}, True),
        ({"Type": "In", "QueryValue": {"Get": "Parameters.HiddenDim"}, "Values": [10, 20]}, True),
        ({"Type": "In", "QueryValue": 30, "Values": [10, 20]}, False),
        ({"Type": "Not", "Condition": {"Type": "Equals", "LeftValue": 1, "RightValue": 1}}, False),
        (
            {
                "Type": "Or",
                "Conditions": [
                    {"Type": "Equals", "LeftValue": 1, "RightValue": 2},
                    {"Type": "LessThan", "LeftValue": 1, "RightValue": 2},
                ],
            },
            True,
        ),
    ],
)
def test_conditions(condition: dict[str, Any], expected: bool) -> None:
    assert evaluate_condition(condition, _scope()) is expected


def test_condition_list_means_all() -> None:
    true = {"Type": "Equals", "LeftValue": 1, "RightValue": 1}
    false = {"Type": "Equals", "LeftValue": 1, "RightValue": 2}
    assert evaluate_conditions([true, true], _scope()) is True
    assert evaluate_conditions([true, false], _scope()) is False


def test_uncomparable_values_are_an_unresolved_condition() -> None:
    with pytest.raises(UnresolvedReference) as caught:
        evaluate_condition({"Type": "LessThan", "LeftValue": "abc", "RightValue": 1}, _scope())
    assert str(caught.value) == "cannot resolve condition LessThan: cannot compare 'abc' with 1"
