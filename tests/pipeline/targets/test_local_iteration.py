"""LocalIteration.reusable_executions: only a whole, Succeeded run of the newest version with
every parameter equal counts as a sweep point already done."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from pipeline.local.store.records import ExecutionRecord
from pipeline.targets.local import LocalTarget
from tests.pipeline.local.local_defs import full_definition, pipeline


def _record(
    target: LocalTarget, execution_id: str, parameters: dict[str, Any], **fields: Any
) -> None:
    values = {"pipeline_version": 1, "status": "Succeeded", "parameters": parameters}
    values.update(fields)
    extra = values.pop("extra", {})
    target.records.save_execution(
        ExecutionRecord(
            pipeline_name="p",
            execution_id=execution_id,
            execution_arn=f"{target.pipeline_arn('p')}/execution/{execution_id}",
            started_at=f"2026-01-01T00:00:0{len(execution_id)}+00:00",
            extra=extra,
            **values,
        )
    )


def _target(tmp_path: Path) -> LocalTarget:
    target = LocalTarget(tmp_path / "store")
    target.upsert_pipeline(pipeline(), None)
    return target


def _resolved(target: LocalTarget, **overrides: Any) -> dict[str, Any]:
    return {
        p["Name"]: overrides.get(p["Name"], p["DefaultValue"]) for p in target.plan("p").parameters
    }


def test_only_a_whole_succeeded_run_of_the_newest_version_with_equal_values_is_reused(
    tmp_path: Path,
) -> None:
    target = _target(tmp_path)
    wanted = _resolved(target)
    other = {**wanted, next(iter(wanted)): "different"}
    _record(target, "failed", wanted, status="Failed")
    _record(target, "running", wanted, status="Executing")
    _record(target, "selective", wanted, extra={"selection": {"source_execution_id": "x"}})
    _record(target, "othervalues", other)
    assert target.reusable_executions("p", [wanted, other]) == [
        None,
        target.describe_execution("othervalues"),
    ]
    _record(target, "good", wanted)
    _record(target, "goodnewer", wanted)  # started later (a longer id): the newest is chosen
    found = target.reusable_executions("p", [wanted])
    assert [s.execution_id if s else None for s in found] == ["goodnewer"]


def test_a_run_of_an_older_pipeline_version_is_not_reused(tmp_path: Path) -> None:
    target = _target(tmp_path)
    wanted = _resolved(target)
    _record(target, "good", wanted)
    changed = copy.deepcopy(full_definition())
    changed["Steps"][0]["Arguments"]["AppSpecification"]["ContainerArguments"] = ["--v2"]
    assert target.upsert_pipeline(pipeline(changed), None).version == 2
    assert target.reusable_executions("p", [wanted]) == [None]
