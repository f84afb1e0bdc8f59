"""The orchestrator with stand-in handlers: order, branches, failures, records on disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.core.records import StepRecord
from pipeline.local.execution import ExecutionIdentity, run_execution
from pipeline.local.graph import StepSpec, parse_definition
from pipeline.local.handlers import HANDLERS
from pipeline.local.handlers.base import StepContext
from pipeline.local.orchestrator import StepOutcome
from pipeline.local.store.records import Records

IDENTITY = ExecutionIdentity("p", "arn:p", "e1", "arn:p/execution/e1", "2026-01-01T00:00:00")


def _job(spec: StepSpec, args: dict[str, Any], ctx: StepContext) -> StepOutcome:
    if args.get("Fail"):
        return StepOutcome("Failed", failure_reason="exit code 1; last output: boom")
    return StepOutcome("Succeeded", {"Out": f"{spec.name}-out", "Args": args})


# A step type of its own: the orchestrator's rules do not depend on what a job is, and no
# SageMaker API request stands behind a "Job" (so the API gate leaves it alone).
HANDLERS_UNDER_TEST = {**HANDLERS, "Job": _job}


def _run(
    tmp_path: Path, steps: list[dict[str, Any]], params: dict[str, Any] | None = None
) -> tuple[Any, list[StepRecord]]:
    definition = json.dumps(
        {
            "Version": "2020-12-01",
            "Parameters": [{"Name": "Go", "Type": "Boolean", "DefaultValue": True}],
            "Steps": steps,
        }
    )
    seen: list[StepRecord] = []
    result = run_execution(
        tmp_path,
        "us-east-1",
        parse_definition(definition),
        IDENTITY,
        params or {"Go": True},
        seen.append,
        endpoints=_no_endpoints,
        handlers=HANDLERS_UNDER_TEST,
    )
    return result, seen


def _no_endpoints() -> Any:
    raise AssertionError("no step under test deploys an endpoint")


def _job_step(name: str, **args: Any) -> dict[str, Any]:
    return {"Name": name, "Type": "Job", "Arguments": args}


def _ended(seen: list[StepRecord]) -> list[tuple[str, str]]:
    return [(r.name, r.status) for r in seen if r.ended_at is not None]


def test_failure_stops_downstream_steps(tmp_path: Path) -> None:
    result, seen = _run(
        tmp_path, [_job_step("A", Fail=True), _job_step("B", In={"Get": "Steps.A.Out"})]
    )
    assert (result.status, result.failure_reason) == (
        "Failed",
        "step A failed: exit code 1; last output: boom",
    )
    assert _ended(seen) == [("A", "Failed")]


def test_condition_runs_only_the_taken_branch(tmp_path: Path) -> None:
    condition = {
        "Name": "C",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [
                {"Type": "Equals", "LeftValue": {"Get": "Parameters.Go"}, "RightValue": True}
            ],
            "IfSteps": [_job_step("Yes", In={"Get": "Steps.A.Out"})],
            "ElseSteps": [_job_step("No")],
        },
    }
    after_no = _job_step("AfterNo", In={"Get": "Steps.No.Out"})
    result, seen = _run(tmp_path, [_job_step("A"), condition, after_no])
    assert result.status == "Succeeded"
    # A and C have no dependency between them: they run in parallel, either may end first
    ended = _ended(seen)
    assert sorted(ended[:2]) == [("A", "Succeeded"), ("C", "Succeeded")]
    assert ended[2:] == [("Yes", "Succeeded")]
    assert result.properties["Yes"]["Args"] == {"In": "A-out"}
    _, other = _run(tmp_path, [_job_step("A"), condition, after_no], {"Go": False})
    ended_names = [n for n, _ in _ended(other)]
    assert set(ended_names) == {"A", "C", "No", "AfterNo"}
    assert ended_names.index("C") < ended_names.index("No") < ended_names.index("AfterNo")


def test_fail_step_ends_the_execution_with_its_message(tmp_path: Path) -> None:
    fail = {
        "Name": "Stop",
        "Type": "Fail",
        "Arguments": {
            "ErrorMessage": {
                "Std:Join": {"On": " ", "Values": ["go was", {"Get": "Parameters.Go"}]}
            }
        },
    }
    later = {**_job_step("Later"), "DependsOn": ["Stop"]}
    result, seen = _run(tmp_path, [fail, later])
    assert (result.status, result.failure_reason) == ("Failed", "go was true")
    assert _ended(seen)[0] == ("Stop", "Failed") and len(_ended(seen)) == 1


def test_unresolvable_reference_names_the_step_and_the_reference(tmp_path: Path) -> None:
    steps = [_job_step("A"), _job_step("B", In={"Get": "Steps.A.Missing.Deep"})]
    result, seen = _run(tmp_path, steps)
    assert result.failure_reason == (
        "step B failed: cannot resolve Steps.A.Missing.Deep: 'Missing' not found"
    )
    assert seen[-1].failure_reason == "cannot resolve Steps.A.Missing.Deep: 'Missing' not found"


def test_step_records_are_written_with_their_properties(tmp_path: Path) -> None:
    _run(tmp_path, [_job_step("A", X=1)])
    [(record, properties)] = Records(tmp_path).steps("e1")
    assert (record.name, record.status, record.step_type) == ("A", "Succeeded", "Job")
    assert properties == {"Out": "A-out", "Args": {"X": 1}}
    assert record.duration_s is not None and record.duration_s >= 0
