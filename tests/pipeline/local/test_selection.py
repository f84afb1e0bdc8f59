"""pipeline.local.selection: the graph walks, the service's checks, retry bookkeeping, and
the orchestrator running only what a selection or a retry leaves to run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.core.records import StepRecord
from pipeline.local.graph import parse_definition
from pipeline.local.selection import (
    SelectionError,
    ancestors,
    check_selection,
    check_source,
    downstream,
    prepare_retry,
    succeeded_properties,
)
from pipeline.local.store.records import ExecutionRecord, Records
from tests.pipeline.local.local_defs import full_definition
from tests.pipeline.local.test_orchestrator import _ended, _job_step, _run

PLAN = parse_definition(json.dumps(full_definition()))


def test_ancestors_and_downstream_follow_property_references_and_branches() -> None:
    assert ancestors(PLAN, ["Eval"]) == {"Prep", "Train"}
    below = downstream(PLAN, "Eval")
    assert {"Eval", "Check", "TooLow"} <= below and "Train" not in below and "Prep" not in below


def test_a_selection_with_a_gap_is_refused_in_the_services_words() -> None:
    with pytest.raises(SelectionError) as caught:
        check_selection(PLAN, "p", ["Prep", "Eval"])
    assert str(caught.value) == (
        "SelectedSteps: All step(s) in all path(s) between two selected steps should be "
        "included; Train lies between Prep and a later selected step: select it too"
    )
    assert check_selection(PLAN, "p", ["Train", "Eval"]) == {"Train", "Eval"}


def test_an_unknown_step_is_refused_with_the_pipelines_steps() -> None:
    with pytest.raises(SelectionError) as caught:
        check_selection(PLAN, "p", ["Evaluate"])
    assert str(caught.value).startswith("SelectedSteps: Evaluate is not a step of pipeline p;")


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ({"pipeline_name": "other", "status": "Succeeded", "pipeline_version": 1}, "of pipeline"),
        ({"pipeline_name": "p", "status": "Executing", "pipeline_version": 1}, "either Failed"),
        ({"pipeline_name": "p", "status": "Stopped", "pipeline_version": 1}, "either Failed"),
        ({"pipeline_name": "p", "status": "Failed", "pipeline_version": 2}, "version 2"),
    ],
)
def test_a_source_must_be_an_ended_execution_of_this_pipeline_version(
    tmp_path: Path, source: dict[str, Any], says: str
) -> None:
    with pytest.raises(SelectionError) as caught:
        record = ExecutionRecord(execution_id="x", execution_arn="arn:x", parameters={},
                                 started_at="2026-01-01T00:00:00", **source)  # fmt: skip
        check_source(Records(tmp_path), record, "p", 1)
    assert says in str(caught.value)


def _execution(records: Records, status: str) -> ExecutionRecord:
    data = ExecutionRecord("p", 1, "e1", "arn:e1", status, {}, "2026-01-01T00:00:00", ran=True)
    records.save_execution(data)
    records.save_step("e1", StepRecord("A", "Job", "Succeeded"), {"Out": "a"})
    records.save_step("e1", StepRecord("B", "Job", "Failed", failure_reason="boom"), {})
    return data


def test_retry_keeps_succeeded_steps_and_archives_the_failed_attempt(tmp_path: Path) -> None:
    records = Records(tmp_path)
    data = prepare_retry(records, _execution(records, "Failed"))
    assert data.status == "Executing" and data.ran is False
    assert [a["status"] for a in data.extra["attempts"]] == ["Failed"]
    assert records.execution("e1").extra["attempts"] == data.extra["attempts"]
    assert [r.name for r, _ in records.steps("e1")] == ["A"]
    assert succeeded_properties(records, "e1") == {"A": {"Out": "a"}}
    archived = tmp_path / "executions/e1/attempts/1/steps/B.json"
    assert json.loads(archived.read_text())["failure_reason"] == "boom"


@pytest.mark.parametrize("status", ["Succeeded", "Executing"])
def test_only_failed_or_stopped_executions_can_be_retried(tmp_path: Path, status: str) -> None:
    records = Records(tmp_path)
    with pytest.raises(SelectionError) as caught:
        prepare_retry(records, _execution(records, status))
    assert f"it is {status}; only a Failed or Stopped execution can be retried" in str(caught.value)


def test_preset_steps_do_not_run_and_unselected_downstream_steps_are_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipeline.local.execution as execution

    real = execution.run_plan

    def with_selection(*args: Any) -> Any:
        return real(*args[:4], {"A": {"Out": "from-source"}}, frozenset({"B"}))

    monkeypatch.setattr(execution, "run_plan", with_selection)
    steps = [
        _job_step("A"),
        _job_step("B", In={"Get": "Steps.A.Out"}),
        _job_step("C", In={"Get": "Steps.B.Out"}),
    ]
    result, seen = _run(tmp_path, steps)
    assert result.status == "Succeeded"
    assert _ended(seen) == [("B", "Succeeded")]
    assert result.properties["B"]["Args"] == {"In": "from-source"}
