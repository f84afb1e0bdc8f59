"""pipeline.sweep.run: the run loop over the target's verbs, the ranking, the metrics read."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pipeline.core.errors import MoonpipeError
from pipeline.core.records import ExecutionSummary
from pipeline.sweep.plan import POINT_OVERRIDES, Point, grid, parse_axes
from pipeline.sweep.run import compare_points, ranked, read_metrics, run_sweep
from tests.pipeline.sweep.fakes import FakeService

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _done(point: Point, status: str, accuracy: float | None, hidden: int, minute: int = 0) -> Point:
    metrics = {} if accuracy is None else {"accuracy": accuracy, "train:loss": 1 - accuracy}
    point.summary = ExecutionSummary(
        "moonpipe", f"arn/{point.index}", f"e{point.index}", status,
        parameters={"HiddenDim": hidden}, metrics=metrics,
        started_at=T0 + timedelta(minutes=minute),
    )  # fmt: skip
    return point


def test_ranking_best_first_ties_to_the_point_that_started_first_failures_last() -> None:
    points = grid(parse_axes(["HiddenDim=64,8,32,16"]))
    _done(points[0], "Succeeded", 0.93, 64, minute=0)
    _done(points[1], "Succeeded", 0.92, 8, minute=1)
    _done(points[2], "Failed", None, 32, minute=2)
    _done(points[3], "Succeeded", 0.93, 16, minute=3)
    # the one ranking rule (pipeline.core.ranking): a tie goes to the execution that started
    # first, not to a parameter's value (it used to be the smaller HiddenDim: 16 first)
    assert [p.values["HiddenDim"] for p in ranked(points, "accuracy")] == ["64", "16", "8", "32"]
    # a loss ranks lowest first
    assert [p.values["HiddenDim"] for p in ranked(points, "train:loss")][:2] == ["64", "16"]
    _done(points[3], "Succeeded", 0.93, 16, minute=-1)  # now 16 started first
    assert [p.values["HiddenDim"] for p in ranked(points, "accuracy")][:2] == ["16", "64"]


def test_a_failed_point_ranks_after_the_succeeded_even_with_a_better_metric() -> None:
    points = grid(parse_axes(["HiddenDim=8,16"]))
    _done(points[0], "Failed", 0.99, 8)
    _done(points[1], "Succeeded", 0.9, 16)
    assert [p.values["HiddenDim"] for p in ranked(points, "accuracy")] == ["16", "8"]


def test_points_start_with_the_gate_closed_and_pending_approval_at_most_n_at_once() -> None:
    target = FakeService()
    points = grid(parse_axes(["HiddenDim=8,16,32,64"]))
    seen: list[str] = []
    run_sweep(target, "moonpipe", points, 2, lambda p: seen.append(p.status), poll_s=0)
    assert [p for p, _ in target.started] == [{"HiddenDim": h, **POINT_OVERRIDES} for h in
                                              ("8", "16", "32", "64")]  # fmt: skip
    assert target.started[0][1] == "sweep-HiddenDim-8"
    assert target.max_running == 2
    assert [p.status for p in points] == ["Succeeded"] * 4
    assert ranked(points, "accuracy")[0].values["HiddenDim"] == "64"


def test_a_failed_or_refused_point_is_a_row_not_the_end_of_the_sweep() -> None:
    target = FakeService(fail={"16"}, refuse={"32"})
    points = grid(parse_axes(["HiddenDim=8,16,32,64"]))
    run_sweep(target, "moonpipe", points, 4, lambda p: None, poll_s=0)
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
        run_sweep(target, "moonpipe", points, 2, on_change, poll_s=0)
    assert target.stopped == ["arn:pipe/execution/x1", "arn:pipe/execution/x2"]
    assert len(target.started) == 2  # the third point never started
    assert [p.status for p in points[:2]] == ["Stopped", "Stopped"]


def test_a_started_point_is_handed_to_the_targets_point_runs() -> None:
    target = FakeService()
    points = grid(parse_axes(["HiddenDim=8,16"]))
    run_sweep(target, "moonpipe", points, 2, lambda p: None, poll_s=0)  # type: ignore[arg-type]
    assert target.launched == ["arn:pipe/execution/x1", "arn:pipe/execution/x2"]


def test_each_succeeded_points_metrics_are_read_from_the_target_to_rank_them() -> None:
    class Service:
        def execution_metrics(self, arn: str) -> dict[str, float]:
            if arn == "arn/c":
                raise MoonpipeError("AccessDenied: s3:GetObject")
            return {"accuracy": {"arn/a": 0.9, "arn/b": 0.95}[arn]}

    points = grid(parse_axes(["HiddenDim=8,16,32,64"]))
    outcomes = [("a", "Succeeded"), ("b", "Succeeded"), ("c", "Succeeded"), ("d", "Failed")]
    for point, (name, status) in zip(points, outcomes, strict=True):
        point.summary = ExecutionSummary("p", f"arn/{name}", name, status)
    notes: list[str] = []
    read_metrics(Service(), points, notes)  # type: ignore[arg-type]
    assert [p.values["HiddenDim"] for p in ranked(points, "accuracy")][:2] == ["16", "8"]
    assert notes == ["no metrics for HiddenDim=32: AccessDenied: s3:GetObject"]
    assert points[3].summary is not None and points[3].summary.metrics == {}


def test_the_points_pages_and_comparison_are_the_targets_to_draw_reused_pages_kept() -> None:
    target = FakeService()
    target.notes.append("a note of the target's own, not the sweep's")
    points = grid(parse_axes(["HiddenDim=8,16"]))
    _done(points[0], "Succeeded", 0.9, 8)
    _done(points[1], "Succeeded", 0.9, 16)
    points[1].reused = True  # its page exists: only the comparison is drawn for it
    notes: list[str] = []
    found = compare_points(target, points, notes)  # type: ignore[arg-type]
    assert found is not None
    comparison, page = found
    assert comparison.execution_ids == ("e0", "e1")  # from the target's facts of each
    assert page == target.comparison_path(["e0", "e1"])
    assert notes == ["pages of ['e0'], comparison /cmp/e0-vs-e1"]  # the target's note only
