"""Comparing executions: what differs, which is best (higher or lower), and the verdict."""

from __future__ import annotations

import copy
from typing import Any

from pipeline.core.ranking import lower_is_better
from pipeline.report.compare import compare
from pipeline.report.report_model import Report, build_report
from tests.pipeline.report.facts import QUALITY, facts, upstream_steps


def _report(execution_id: str, accuracy: float, loss: float, **params: Any) -> Report:
    quality = copy.deepcopy(QUALITY)
    quality["binary_classification_metrics"]["accuracy"]["value"] = accuracy
    steps = upstream_steps()
    steps[1][1]["FinalMetricDataList"] = [{"MetricName": "train:loss", "Value": loss}]
    values = {
        "HiddenDim": 20,
        "Rows": 3,
        "Accuracy": 0.9,
        "Threshold": 0.5,
        "EndpointName": "ep",
        **params,
    }
    report = build_report(facts(steps, quality_report=quality, parameters=values))
    return Report(**{**report.__dict__, "execution_id": execution_id})


def test_differing_parameters_and_best_metrics_in_both_directions() -> None:
    result = compare([_report("a", 0.93, 0.10), _report("b", 0.95, 0.20, HiddenDim=40)])
    assert result.differing == {"HiddenDim": [20, 40]}
    assert result.metrics["accuracy"] == [0.93, 0.95]
    assert result.best["accuracy"] == [1]
    assert result.best["train:loss"] == [0]  # lower is better for a loss
    assert "precision" not in result.best  # equal everywhere: nothing to mark
    assert result.verdict == "b is best by accuracy: 0.9500 against 0.9300 with HiddenDim=40"


def test_a_tie_marks_every_tied_execution_and_three_runs_compare() -> None:
    result = compare(
        [_report("a", 0.95, 0.1), _report("b", 0.95, 0.1, Rows=4), _report("c", 0.90, 0.1, Rows=5)]
    )
    assert result.best["accuracy"] == [0, 1]
    assert result.differing == {"Rows": [3, 4, 5]}
    assert result.to_json_dict()["best"]["accuracy"] == ["a", "b"]


def test_executions_without_metrics_say_so() -> None:
    bare = build_report(facts([], status="Failed"))
    result = compare([bare, Report(**{**bare.__dict__, "execution_id": "e2"})])
    assert result.metrics == {} and result.best == {}
    assert result.verdict == "no execution has metrics to compare (did evaluation run?)"


def test_lower_is_better_only_for_losses_and_false_rates() -> None:
    assert lower_is_better("train:loss") and lower_is_better("false_positive_rate")
    assert not lower_is_better("accuracy") and not lower_is_better("true_positive_rate")

