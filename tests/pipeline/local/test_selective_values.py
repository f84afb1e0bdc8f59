"""Issue 20: a selective execution starts with its source's parameter values (what the reused
steps ran with), --param overriding them; every reused step says where it came from and what
its source ran with; a retried execution's duration is its running time only."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from pipeline.console import reuse_mismatch, step_lines, summary_lines
from pipeline.core.records import Selection
from pipeline.local.runner import LocalRunner
from pipeline.local.summary import running_seconds
from tests.pipeline.local.engine import local_runner
from tests.pipeline.local.local_defs import full_definition, pipeline

DEFAULTS = {"HiddenDim": 20, "Rows": 3, "Accuracy": 0.9, "Threshold": 0.5, "EndpointName": "ep"}


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> LocalRunner:
    definition = full_definition()
    definition["Steps"] = definition["Steps"][:3]  # data, train, evaluate
    made = local_runner(tmp_path_factory.mktemp("store"))
    made.pipelines.upsert(pipeline(definition), None)
    return made


@pytest.fixture(scope="module")
def source(runner: LocalRunner) -> str:
    """A whole execution with HiddenDim=8: the source the selective runs reuse."""
    arn = runner.start("p", {"HiddenDim": 8})
    assert runner.run(arn, lambda record: None).status == "Succeeded"
    return arn.rsplit("/", 1)[1]


def test_a_selective_run_is_recorded_with_its_sources_values(
    runner: LocalRunner, source: str
) -> None:
    """Issue 20: after a HiddenDim=8 run, --from-step evaluation recorded the defaults
    (HiddenDim=20) although it evaluated the HiddenDim=8 model."""
    arn = runner.start("p", {}, selection=Selection(("Eval",), source))
    summary = runner.run(arn, lambda record: None)
    assert summary.status == "Succeeded"
    assert summary.parameters["HiddenDim"] == 8  # not the default 20
    reused = {s.name: s.metadata for s in summary.steps if s.metadata.get("ReusedBySelectionFrom")}
    assert sorted(reused) == ["Prep", "Train"]
    for metadata in reused.values():
        assert metadata["ReusedBySelectionFrom"] == source
        assert metadata["SourceParameters"]["HiddenDim"] == 8
    assert reuse_mismatch(summary) is None  # they agree: nothing to warn about


def test_param_overrides_the_sources_value_and_the_mismatch_is_one_line(
    runner: LocalRunner, source: str
) -> None:
    arn = runner.start("p", {"HiddenDim": 40}, selection=Selection(("Eval",), source))
    summary = runner.run(arn, lambda record: None)
    assert summary.parameters["HiddenDim"] == 40
    assert reuse_mismatch(summary) == (
        f"parameters differ: Prep, Train reused from {source}, which ran with HiddenDim=8 "
        "(this execution: HiddenDim=40)"
    )
    lines = summary_lines(summary, store="/s", defaults=DEFAULTS)
    assert f"  reused:         Prep, Train from {source} (ran with HiddenDim=8)" in lines
    assert sum(line.startswith("  parameters differ: ") for line in lines) == 1
    train = next(s for s in summary.steps if s.name == "Train")
    assert step_lines(train, show_start=False, defaults=DEFAULTS)[0].endswith(
        f"reused from {source} (ran with HiddenDim=8)"
    )
    as_json = summary.to_json_dict()["steps"]
    assert next(s for s in as_json if s["name"] == "Train")["source_parameters"]["HiddenDim"] == 8


def test_a_retried_executions_duration_leaves_out_the_idle_time(
    runner: LocalRunner, tmp_path: Path
) -> None:
    """Issue 20: --retry said "Succeeded in 82.3 s" for a 45 s run (the idle time since the
    --stop counted). The first attempt is moved an hour back: the hour is not running time."""
    arn = runner.start("p", {"HiddenDim": 5})

    def interrupt_at_train(record: object) -> None:
        if (getattr(record, "name", ""), getattr(record, "status", "")) == ("Train", "Executing"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner.run(arn, interrupt_at_train)
    failed = runner.settle(arn)
    hour = timedelta(hours=1)
    started = datetime.fromisoformat(failed.started_at) - hour
    ended = datetime.fromisoformat(str(failed.ended_at)) - hour
    runner.records.save_execution(
        replace(failed, started_at=started.isoformat(), ended_at=ended.isoformat())
    )
    runner.retry(arn)
    summary = runner.run(arn, lambda record: None)
    assert summary.status == "Succeeded"
    assert summary.started_at is not None and summary.ended_at is not None
    wall = (summary.ended_at - summary.started_at).total_seconds()
    assert summary.running_s is not None and summary.duration_s == summary.running_s
    assert wall - summary.running_s >= 3600 - (ended - started).total_seconds()
    assert summary.to_json_dict()["duration_s"] == round(summary.running_s, 3)


def test_running_seconds_adds_each_attempt_from_its_start_to_its_end() -> None:
    attempts = [
        {"ended_at": "2026-01-01T00:00:10", "resumed_at": "2026-01-01T01:00:00"},
        {"ended_at": "2026-01-01T01:00:05", "resumed_at": "2026-01-01T02:00:00"},
    ]
    assert running_seconds("2026-01-01T00:00:00", "2026-01-01T02:00:20", attempts) == 35.0
    assert running_seconds("2026-01-01T00:00:00", "2026-01-01T00:00:20", None) is None
    old = [{"ended_at": "2026-01-01T00:00:10"}]  # recorded before resumption times were
    assert running_seconds("2026-01-01T00:00:00", "2026-01-01T02:00:20", old) is None
