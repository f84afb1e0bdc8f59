"""CheckAccuracy and its branches as they appear in the definition."""

from __future__ import annotations

from typing import Any

ACCURACY = {
    "Std:JsonGet": {
        "PropertyFile": {"Get": "Steps.EvaluateMoonClassifier.PropertyFiles.EvaluationReport"},
        "Path": "binary_classification_metrics.accuracy.value",
    }
}


def _top(definition: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in definition["Steps"] if s["Name"] == name)


def test_condition_compares_report_accuracy_with_the_threshold(definition: dict[str, Any]) -> None:
    check = _top(definition, "CheckAccuracy")
    assert check["Type"] == "Condition"
    assert check["Arguments"]["Conditions"] == [
        {
            "Type": "GreaterThanOrEqualTo",
            "LeftValue": ACCURACY,
            "RightValue": {"Get": "Parameters.AccuracyThreshold"},
        }
    ]


def test_if_branch_registers_then_asks_the_deploy_gate(definition: dict[str, Any]) -> None:
    branch = _top(definition, "CheckAccuracy")["Arguments"]["IfSteps"]
    assert [(s["Name"], s["Type"]) for s in branch] == [
        ("RegisterMoonModel-RegisterModel", "RegisterModel"),
        ("DeployOrNot", "Condition"),
    ]


def test_else_branch_fails_with_accuracy_and_threshold(definition: dict[str, Any]) -> None:
    (fail,) = _top(definition, "CheckAccuracy")["Arguments"]["ElseSteps"]
    assert (fail["Name"], fail["Type"]) == ("AccuracyBelowThreshold", "Fail")
    assert fail["Arguments"]["ErrorMessage"] == {
        "Std:Join": {
            "On": " ",
            "Values": [
                "Model accuracy",
                ACCURACY,
                "is below the threshold",
                {"Get": "Parameters.AccuracyThreshold"},
            ],
        }
    }
    assert fail["DisplayName"] == "Accuracy below threshold"


def test_display_name_and_description(definition: dict[str, Any]) -> None:
    check = _top(definition, "CheckAccuracy")
    assert check["DisplayName"] == "Check accuracy"
    assert check["Description"]
