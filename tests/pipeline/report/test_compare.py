"""Comparing executions: what differs, which is best (higher or lower), and the verdict."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from pipeline.core.ranking import lower_is_better
from pipeline.core.records import ExecutionFacts, ExecutionSummary
from pipeline.report.compare import compare
from pipeline.report.report_model import Report, build_report
from pipeline.sweep.plan import grid, parse_axes
from pipeline.sweep.run import ranked
from tests.pipeline.report.facts import QUALITY, T0, facts, upstream_steps


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


def _execution(execution_id: str, accuracy: float, minute: int, hidden: int) -> ExecutionFacts:
    """One execution's facts: its accuracy, when it started, its HiddenDim."""
    quality = copy.deepcopy(QUALITY)
    quality["binary_classification_metrics"]["accuracy"]["value"] = accuracy
    values = {
        "HiddenDim": hidden,
        "Rows": 3,
        "Accuracy": 0.9,
        "Threshold": 0.5,
        "EndpointName": "e",
    }
    made = facts(upstream_steps(), quality_report=quality, parameters=values)
    return replace(made, execution_id=execution_id, started_at=T0 + timedelta(minutes=minute))


def _sweep_winner(executions: list[ExecutionFacts]) -> str:
    """What --sweep's "best by accuracy" names, its points' metrics read as a target reads
    them (the evaluation report and the training job's final metrics)."""
    points = grid(parse_axes([f"HiddenDim={','.join(str(i) for i in range(len(executions)))}"]))
    for point, done in zip(points, executions, strict=True):
        report = build_report(done)
        point.summary = ExecutionSummary(
            "p", done.execution_arn, done.execution_id, done.status,
            metrics={**report.metrics, **report.training_final}, started_at=done.started_at,
        )  # fmt: skip
    best = ranked(points, "accuracy")[0].summary
    assert best is not None
    return best.execution_id


def _compare_winner(executions: list[ExecutionFacts]) -> str:
    """What --compare's verdict names."""
    return compare([build_report(e) for e in executions]).verdict.split(" ")[0]


@pytest.mark.parametrize(
    "order",
    [(0, 1, 2), (2, 1, 0), (1, 2, 0)],  # the same executions, listed in another order
)
def test_sweep_and_compare_name_the_same_winner_on_the_same_executions(
    order: tuple[int, ...],
) -> None:
    tie = [  # two tie on accuracy: the one that started first wins, whatever its HiddenDim
        _execution("late-small", 0.95, minute=5, hidden=8),
        _execution("early-big", 0.95, minute=1, hidden=64),
        _execution("worse", 0.90, minute=0, hidden=16),
    ]
    clear = [  # a clear winner, started last
        _execution("first", 0.90, minute=0, hidden=8),
        _execution("second", 0.92, minute=1, hidden=16),
        _execution("third", 0.97, minute=2, hidden=32),
    ]
    for executions, winner in ((tie, "early-big"), (clear, "third")):
        shown = [executions[i] for i in order]
        assert _sweep_winner(shown) == _compare_winner(shown) == winner


# -- issue 20: verdicts that say what is true ---------------------------------------------


def _failed(execution_id: str) -> Report:
    return Report(
        **{**build_report(facts([], status="Failed")).__dict__, "execution_id": execution_id}
    )


def test_a_failed_execution_without_metrics_is_named_not_a_difference() -> None:
    """Compared with a Failed run (no metrics), the verdict said "no difference in accuracy"."""
    ok = _report("ok", 0.93, 0.1)
    result = compare([ok, _failed("bad")])
    assert result.verdict == (
        "only ok has accuracy (0.9300); bad (Failed) has no accuracy; nothing to compare"
    )
    assert "no difference" not in result.verdict


def test_every_execution_tied_is_a_tie() -> None:
    result = compare([_report("a", 0.9267, 0.1), _report("b", 0.9267, 0.2, HiddenDim=40)])
    assert result.verdict == "a and b tie on accuracy (0.9267)"


def test_a_tie_for_the_best_is_worded_as_a_tie_and_never_against_the_tied_value() -> None:
    """A tie printed "…is best by accuracy: 0.9267 against 0.9133, 0.9267"."""
    tied = [_report("a", 0.9267, 0.1), _report("b", 0.9133, 0.1), _report("c", 0.9267, 0.1)]
    result = compare(tied)
    assert result.verdict == (
        "a and c tie for the best accuracy (0.9267) against 0.9133; a started first, "
        "so it ranks first"
    )


def test_a_clear_winner_with_a_failed_third_names_the_failed_one() -> None:
    result = compare(
        [_report("a", 0.90, 0.1), _report("b", 0.95, 0.1, HiddenDim=40), _failed("bad")]
    )
    assert result.verdict == (
        "b is best by accuracy: 0.9500 against 0.9000 with HiddenDim=40; bad (Failed) has no "
        "accuracy"
    )
