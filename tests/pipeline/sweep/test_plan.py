"""pipeline.sweep.plan: the grid and its checks, the --deploy-best metric checked before any
point runs, and points whose exact execution already succeeded reused instead of started
again."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipeline.core.errors import ConfigError, ParameterError
from pipeline.core.quality import QUALITY_METRICS
from pipeline.core.records import ExecutionSummary
from pipeline.local.graph import parse_definition
from pipeline.sweep.plan import (
    check_metric,
    check_points,
    definition_metrics,
    display_name,
    grid,
    missing_metric,
    parse_axes,
    points_of,
    reuse_done_points,
)
from pipeline.sweep.run import run_sweep
from tests.pipeline.sweep.fakes import DECLARED, FakeService

REPO = Path(__file__).resolve().parents[3]
EPOCHS = {"Name": "Epochs", "Type": "Integer", "DefaultValue": 100}


def test_grid_is_the_product_first_axis_slowest_with_names_saying_the_point() -> None:
    points = grid(parse_axes(["HiddenDim=8,16", "LearningRate=0.01,0.05"]))
    assert [p.values for p in points] == [
        {"HiddenDim": "8", "LearningRate": "0.01"},
        {"HiddenDim": "8", "LearningRate": "0.05"},
        {"HiddenDim": "16", "LearningRate": "0.01"},
        {"HiddenDim": "16", "LearningRate": "0.05"},
    ]
    assert points[1].display_name == "sweep-HiddenDim-8-LearningRate-0p05"
    assert points[1].label() == "HiddenDim=8 LearningRate=0.05"


def test_display_name_fits_sagemakers_pattern_and_length() -> None:
    name = display_name({"EndpointName": "x" * 100, "Noise": "0.25"})
    assert len(name) <= 82 and name.startswith("sweep-EndpointName-xxx")
    assert display_name({"A": "-1.5e-3"}) == "sweep-A-1p5e-3"


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["HiddenDim"], "expected NAME=VALUE"),
        (["HiddenDim="], "expected NAME=V1,V2,... with no empty value"),
        (["HiddenDim=8,,16"], "with no empty value"),
        (["HiddenDim=8,8"], "a value is listed twice"),
        (["HiddenDim=8", "HiddenDim=16"], "--sweep HiddenDim is given twice"),
        (["Deploy=true,false"], "the sweep sets Deploy itself"),
    ],
)
def test_malformed_sweep_flags_are_one_line_errors(flags: list[str], says: str) -> None:
    with pytest.raises((ConfigError, ParameterError)) as caught:
        parse_axes(flags)
    assert says in str(caught.value)


def test_every_point_is_checked_before_anything_runs() -> None:
    points = grid(parse_axes(["HiddenDim=8,big"]))
    with pytest.raises(ParameterError) as caught:
        check_points(DECLARED, points)
    assert str(caught.value).startswith("parameter HiddenDim is Integer; 'big' is not a valid")


def test_a_definition_without_the_deploy_gate_is_refused() -> None:
    old = [p for p in DECLARED if p["Name"] != "Deploy"]
    with pytest.raises(ConfigError) as caught:
        check_points(old, grid(parse_axes(["HiddenDim=8"])))
    assert "has no Deploy parameter" in str(caught.value) and "--upsert" in str(caught.value)


def test_a_swept_name_set_with_param_too_or_too_many_points_is_refused() -> None:
    with pytest.raises(ConfigError, match="HiddenDim is both swept and set with --param"):
        points_of(["HiddenDim=8,16"], {"HiddenDim": "4"})
    with pytest.raises(ConfigError, match="the sweep has 81 points; at most 64 per sweep"):
        points_of(["A=1,2,3,4,5,6,7,8,9", "B=1,2,3,4,5,6,7,8,9"], {})
    [point] = points_of(["HiddenDim=8"], {"Epochs": "30"})
    assert point.fixed == {"Epochs": "30"}


def _moonpipe_plan() -> Any:
    """moonpipe's own definition as the SDK builds it (the build is cached per session)."""
    from pipeline.config import DEFAULT_CONFIG_PATH, load_config
    from tests.pipeline.targets.sagemaker.support import cached_build

    cfg = load_config(DEFAULT_CONFIG_PATH, {"target": "local"}, {})
    return parse_definition(cached_build(cfg).definition)


def test_the_quality_metrics_are_the_ones_evaluate_py_writes() -> None:
    import sys

    sys.path.insert(0, str(REPO / "entrypoints"))
    try:
        from evaluate import compute_metrics
    finally:
        sys.path.remove(str(REPO / "entrypoints"))
    report = compute_metrics(np.array([0, 1, 1, 0]), np.array([0.2, 0.7, 0.4, 0.1]))
    scalars = [k for k, v in report["binary_classification_metrics"].items() if "value" in v]
    assert scalars == list(QUALITY_METRICS)


def test_moonpipe_points_have_the_report_and_the_training_metrics() -> None:
    quality, training = definition_metrics(_moonpipe_plan())
    assert quality == list(QUALITY_METRICS)
    assert training == ["train:accuracy", "train:loss"]


@pytest.mark.parametrize("metric", ["accuracy", "f1", "false_positive_rate", "train:loss"])
def test_a_metric_the_points_will_have_passes(metric: str) -> None:
    check_metric(metric, _moonpipe_plan())


def test_a_misspelt_metric_is_one_line_naming_the_metrics_that_exist() -> None:
    with pytest.raises(ConfigError) as caught:
        check_metric("acuracy", _moonpipe_plan())
    assert caught.value.exit_code == 2
    assert str(caught.value) == (
        "--deploy-best acuracy: no such metric (did you mean accuracy?); the points will have "
        "the evaluation report's accuracy, precision, recall, f1, auc, true_positive_rate, "
        "true_negative_rate, false_positive_rate, false_negative_rate; "
        "the training job's train:accuracy, train:loss"
    )


def test_a_definition_without_an_evaluation_report_offers_only_its_training_metrics() -> None:
    definition = {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [
            {
                "Name": "T",
                "Type": "Training",
                "Arguments": {
                    "AlgorithmSpecification": {"MetricDefinitions": [{"Name": "val:auc"}]}
                },
            }
        ],
    }
    plan = parse_definition(json.dumps(definition))
    with pytest.raises(ConfigError) as caught:
        check_metric("accuracy", plan)
    assert str(caught.value) == (
        "--deploy-best accuracy: no such metric; the points will have the training job's val:auc"
    )


def _succeeded(point_index: int, metrics: Mapping[str, float]) -> ExecutionSummary:
    return ExecutionSummary(
        "p", f"arn/{point_index}", f"e{point_index}", "Succeeded", metrics=metrics
    )


def test_after_the_run_a_metric_no_point_has_is_said_with_the_ones_they_have() -> None:
    points = grid(parse_axes(["HiddenDim=8,16"]))
    for point in points:
        point.summary = _succeeded(point.index, {"auc": 0.9, "accuracy": 0.8})
    assert missing_metric("train:loss", points) == (
        "no point has a train:loss metric; the points have: accuracy, auc"
    )
    assert missing_metric("auc", points) is None


class ReusingService(FakeService):
    """FakeService that already holds succeeded executions for some parameter sets."""

    def __init__(self, done: Mapping[int, ExecutionSummary]) -> None:
        super().__init__()
        self.done = done  # HiddenDim -> the execution that ran it
        self.asked: list[dict[str, Any]] = []

    def reusable_executions(
        self, name: str, wanted: Sequence[Mapping[str, Any]]
    ) -> list[ExecutionSummary | None]:
        self.asked += [dict(w) for w in wanted]
        return [self.done.get(w["HiddenDim"]) for w in wanted]


def test_a_point_that_already_succeeded_is_reused_and_never_started_again() -> None:
    old = _succeeded(9, {"accuracy": 0.95})
    target = ReusingService({16: old})
    points = grid(parse_axes(["HiddenDim=8,16"]))
    for point in points:
        point.fixed = {"Epochs": "30"}
    reuse_done_points(target, "moonpipe", [*DECLARED, EPOCHS], points)  # type: ignore[arg-type]
    # asked with every resolved value, the sweep's own Deploy=false and approval included
    assert target.asked[1] == {
        "HiddenDim": 16,
        "LearningRate": 0.05,
        "ModelApprovalStatus": "PendingManualApproval",
        "Deploy": False,
        "Epochs": 30,
    }
    assert [p.reused for p in points] == [False, True]
    assert points[1].summary is old and points[1].execution_arn == "arn/9"
    run_sweep(target, "moonpipe", points, 2, lambda p: None, poll_s=0)  # type: ignore[arg-type]
    assert [p["HiddenDim"] for p, _ in target.started] == ["8"]  # only the new point ran
    assert [p.status for p in points] == ["Succeeded", "Succeeded"]
    assert points[1].summary is old
