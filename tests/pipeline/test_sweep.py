"""pipeline.sweep: the grid, the checks before anything runs, the run loop and the ranking."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from pipeline.core.errors import ConfigError, MoonpipeError, ParameterError
from pipeline.core.records import ExecutionSummary
from pipeline.sweep import (
    POINT_OVERRIDES,
    Point,
    check_points,
    display_name,
    grid,
    parse_axes,
    ranked,
    run_sweep,
)

DECLARED = [
    {"Name": "HiddenDim", "Type": "Integer", "DefaultValue": 20},
    {"Name": "LearningRate", "Type": "Float", "DefaultValue": 0.05},
    {"Name": "ModelApprovalStatus", "Type": "String", "DefaultValue": "Approved"},
    {"Name": "Deploy", "Type": "Boolean", "DefaultValue": True},
]


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


def _done(point: Point, status: str, accuracy: float | None, hidden: int) -> Point:
    metrics = {} if accuracy is None else {"accuracy": accuracy, "train:loss": 1 - accuracy}
    point.summary = ExecutionSummary(
        "moonpipe", f"arn/{point.index}", f"e{point.index}", status,
        parameters={"HiddenDim": hidden}, metrics=metrics,
    )  # fmt: skip
    return point


def test_ranking_best_first_ties_to_the_smaller_model_failures_last() -> None:
    points = grid(parse_axes(["HiddenDim=64,8,32,16"]))
    _done(points[0], "Succeeded", 0.93, 64)
    _done(points[1], "Succeeded", 0.92, 8)
    _done(points[2], "Failed", None, 32)
    _done(points[3], "Succeeded", 0.93, 16)
    assert [p.values["HiddenDim"] for p in ranked(points, "accuracy")] == ["16", "64", "8", "32"]
    # a loss ranks lowest first
    assert [p.values["HiddenDim"] for p in ranked(points, "train:loss")][:2] == ["16", "64"]


class FakeService:
    """A SageMaker-like target: each describe moves an execution one status on."""

    name = "sagemaker"

    def __init__(self, fail: set[str] = frozenset(), refuse: set[str] = frozenset()) -> None:
        self.fail, self.refuse = fail, refuse
        self.started: list[tuple[dict[str, Any], str | None]] = []
        self.polls: dict[str, int] = {}
        self.stopped: list[str] = []
        self.max_running = 0

    def start_execution(
        self, name: str, parameters: Mapping[str, Any], display_name: str | None = None
    ) -> str:
        if parameters["HiddenDim"] in self.refuse:
            raise MoonpipeError("ResourceLimitExceeded: too many executions")
        self.started.append((dict(parameters), display_name))
        arn = f"arn:pipe/execution/x{len(self.started)}"
        self.polls[arn] = 0
        return arn

    def describe_execution(self, arn: str) -> ExecutionSummary:
        self.polls[arn] += 1
        running = sum(1 for a, n in self.polls.items() if 0 < n < 3 and a not in self.stopped)
        self.max_running = max(self.max_running, running)
        hidden = self.started[int(arn.rsplit("x", 1)[1]) - 1][0]["HiddenDim"]
        status = "Executing" if self.polls[arn] < 3 else "Succeeded"
        if status == "Succeeded" and hidden in self.fail:
            return ExecutionSummary("p", arn, arn[-2:], "Failed", failure_reason="job died")
        if arn in self.stopped:
            status = "Stopped"
        metrics = {"accuracy": 0.9 + int(hidden) / 1000} if status == "Succeeded" else {}
        return ExecutionSummary("p", arn, arn[-2:], status, metrics=metrics)

    def stop_execution(self, arn: str) -> ExecutionSummary:
        self.stopped.append(arn)
        return self.describe_execution(arn)


def test_points_start_with_the_gate_closed_and_pending_approval_at_most_n_at_once() -> None:
    target = FakeService()
    points = grid(parse_axes(["HiddenDim=8,16,32,64"]))
    seen: list[str] = []
    run_sweep(target, "moonpipe", points, 2, lambda p: seen.append(p.status), poll_s=0)  # type: ignore[arg-type]
    assert [p for p, _ in target.started] == [{"HiddenDim": h, **POINT_OVERRIDES} for h in
                                              ("8", "16", "32", "64")]  # fmt: skip
    assert target.started[0][1] == "sweep-HiddenDim-8"
    assert target.max_running == 2
    assert [p.status for p in points] == ["Succeeded"] * 4
    assert ranked(points, "accuracy")[0].values["HiddenDim"] == "64"


def test_a_failed_or_refused_point_is_a_row_not_the_end_of_the_sweep() -> None:
    target = FakeService(fail={"16"}, refuse={"32"})
    points = grid(parse_axes(["HiddenDim=8,16,32,64"]))
    run_sweep(target, "moonpipe", points, 4, lambda p: None, poll_s=0)  # type: ignore[arg-type]
    assert [p.status for p in points] == ["Succeeded", "Failed", "Failed", "Succeeded"]
    assert points[1].reason == "job died"
    assert points[2].reason == "not started: ResourceLimitExceeded: too many executions"


def test_ctrl_c_stops_every_running_point_then_propagates() -> None:
    target = FakeService()
    points = grid(parse_axes(["HiddenDim=8,16,32"]))
    calls = []

    def on_change(point: Point) -> None:
        calls.append(point.status)
        if len(calls) == 3:  # two points running
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(target, "moonpipe", points, 2, on_change, poll_s=0)  # type: ignore[arg-type]
    assert target.stopped == ["arn:pipe/execution/x1", "arn:pipe/execution/x2"]
    assert len(target.started) == 2  # the third point never started
    assert [p.status for p in points[:2]] == ["Stopped", "Stopped"]
