"""Retry and selective execution on the local engine: which steps run, which are reused.

RetryPipelineExecution: a Failed or Stopped execution resumes under the same id and
parameters; its succeeded steps keep their records and are not rerun, the others start a
new attempt (the earlier attempt's records are kept under ``attempts/<n>/``).

SelectiveExecutionConfig: only the selected steps run; the steps they depend on take their
properties (the very same S3 URIs, nothing recomputed) from a source execution of the same
pipeline version, which must have ended Succeeded or Failed; unselected steps downstream do
not run. Texts follow the API reference's wording ("All step(s) in all path(s) between two
selected steps should be included"; the source's status "can be either Failed or Success").
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from pipeline.core.errors import MoonpipeError
from pipeline.core.names import utc_now
from pipeline.core.status import RETRYABLE, SELECTION_SOURCES, Status
from pipeline.local.graph import PipelineGraph, upstream
from pipeline.local.store.records import ExecutionRecord, Records


class SelectionError(MoonpipeError):
    """A retry or a selection the service would refuse (ValidationException): exit 2."""


def check_retryable(data: ExecutionRecord) -> None:
    """Refuse a retry of an execution that is not Failed or Stopped, in the service's words."""
    if data.status not in RETRYABLE:
        raise SelectionError(
            f"cannot retry execution {data.execution_id}: it is {data.status}; only a "
            "Failed or Stopped execution can be retried (start a new one with --start)"
        )


def prepare_retry(
    records: Records, data: ExecutionRecord, starter: dict[str, Any] | None = None
) -> ExecutionRecord:
    """Make a Failed or Stopped execution runnable again; returns its updated record.

    The caller holds the execution (pipeline.local.interruptions.hold) and is named its
    ``starter``: the one to run it next.
    """
    execution_id = data.execution_id
    check_retryable(data)
    attempts = list(data.extra.get("attempts", []))
    attempt = len(attempts) + 1
    layout = records.layout
    archive = layout.attempt_steps(execution_id, attempt)
    archive.mkdir(parents=True, exist_ok=True)
    for record, _ in records.steps(execution_id):
        if record.status != Status.SUCCEEDED:  # kept as history, then rerun
            path = layout.step_record(execution_id, record.name)
            shutil.copy2(path, archive / path.name)
            path.unlink()
    layout.stop_request(execution_id).unlink(missing_ok=True)
    history = {k: getattr(data, k) for k in ("status", "failure_reason", "started_at", "ended_at")}
    data = replace(
        data,
        status=Status.EXECUTING,
        failure_reason=None,
        ended_at=None,
        ran=False,
        runner=None,
        starter=starter,
        extra={
            **data.extra,
            "attempts": [
                *attempts,
                {"attempt": attempt, **history, "resumed_at": utc_now().isoformat()},
            ],
        },
    )
    records.save_execution(data)
    return data


def succeeded_properties(records: Records, execution_id: str) -> dict[str, Mapping[str, Any]]:
    """Step name -> properties of every step that succeeded in ``execution_id``."""
    return {
        record.name: dict(properties or {})
        for record, properties in records.steps(execution_id)
        if record.status == Status.SUCCEEDED
    }


def ancestors(plan: PipelineGraph, names: Iterable[str]) -> set[str]:
    """Every step that ``names`` depend on, directly or not."""
    by_name = {s.name: s for s in plan.steps}
    found: set[str] = set()
    todo = [u for n in names for u in upstream(by_name[n])]
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo.extend(upstream(by_name[name]))
    return found


def downstream(plan: PipelineGraph, name: str) -> set[str]:
    """``name`` and every step that depends on it, directly or not (--from-step)."""
    found = {name}
    for spec in plan.steps:  # plan order is topological
        if upstream(spec) & found:
            found.add(spec.name)
    return found


def check_selection(
    plan: PipelineGraph, pipeline_name: str, selected: Iterable[str]
) -> frozenset[str]:
    """The selection, if the service would take it."""
    chosen = frozenset(selected)
    names = [s.name for s in plan.steps]
    for name in sorted(chosen):
        if name not in names:
            raise SelectionError(
                f"SelectedSteps: {name} is not a step of pipeline {pipeline_name}; "
                f"its steps: {', '.join(names)}"
            )
    for name in sorted(chosen):
        between = downstream(plan, name) & ancestors(plan, chosen - {name}) - chosen
        if between:
            raise SelectionError(
                "SelectedSteps: All step(s) in all path(s) between two selected steps should "
                f"be included; {sorted(between)[0]} lies between {name} and a later "
                "selected step: select it too"
            )
    return chosen


def check_source(
    records: Records, source: ExecutionRecord, pipeline_name: str, version: int
) -> None:
    """The source execution must be this pipeline's, of this version, and have ended."""
    arn = source.execution_arn
    if source.pipeline_name != pipeline_name:
        raise SelectionError(
            f"SourcePipelineExecutionArn {arn} is an execution of pipeline "
            f"{source.pipeline_name}, not of {pipeline_name}"
        )
    if source.status not in SELECTION_SOURCES:
        raise SelectionError(
            f"SourcePipelineExecutionArn {arn} is {source.status}; the source "
            "execution's status can be either Failed or Success (wait for it to end)"
        )
    if source.pipeline_version != version:
        raise SelectionError(
            f"SourcePipelineExecutionArn {arn} ran pipeline version "
            f"{source.pipeline_version}, not the current version {version}; "
            "run a full --start first"
        )


def reuse_from_source(
    records: Records, plan: PipelineGraph, source_id: str, selected: frozenset[str]
) -> dict[str, Mapping[str, Any]]:
    """The unselected steps the selection depends on, with the source's properties."""
    available = succeeded_properties(records, source_id)
    needed = ancestors(plan, selected) - selected
    missing = sorted(needed - set(available))
    if missing:
        raise SelectionError(
            f"step {missing[0]} did not succeed in source execution {source_id}; "
            "select it too, or choose another --from-execution"
        )
    return {name: available[name] for name in needed}


def record_reused(
    records: Records, execution_id: str, source_id: str, reused: Mapping[str, Any]
) -> None:
    """A Succeeded record per reused step, saying it was reused by selection, and from where."""
    source = {r.name: r for r, _ in records.steps(source_id)}
    ran_with = dict(records.execution(source_id).parameters)  # shown beside each reused step
    moment = utc_now()
    for name, properties in reused.items():
        record = replace(
            source[name],
            started_at=moment,
            ended_at=moment,
            cache_hit=False,
            log_path=source[name].log_path,
            metadata={
                **source[name].metadata,
                "ReusedBySelectionFrom": source_id,
                "SourceParameters": ran_with,
            },
        )
        records.save_step(execution_id, record, properties)


def preset_for(
    records: Records, data: ExecutionRecord
) -> tuple[dict[str, Mapping[str, Any]] | None, frozenset[str] | None]:
    """What an execution about to run reuses and which steps it may run."""
    selection = data.extra.get("selection")
    if selection:
        reused = succeeded_properties(records, data.execution_id)
        return reused, frozenset(selection["selected_steps"])
    if data.extra.get("attempts"):
        return succeeded_properties(records, data.execution_id), None
    return None, None


def latest_source(records: Records, pipeline_name: str) -> str:
    """The newest Succeeded or Failed execution of the pipeline (the default source)."""
    ended = [
        d
        for d in (records.execution(i) for i in records.execution_ids())
        if d.pipeline_name == pipeline_name and d.status in SELECTION_SOURCES
    ]
    if not ended:
        raise SelectionError(
            f"pipeline {pipeline_name} has no Succeeded or Failed execution to take the "
            "unselected steps from; run a full --start first"
        )
    return max(ended, key=lambda d: d.started_at).execution_id


def plan_selection(
    records: Records,
    plan: PipelineGraph,
    version: int,
    pipeline_name: str,
    selected_steps: Iterable[str],
    source_id: str | None,
) -> tuple[dict[str, Any], dict[str, Mapping[str, Any]]]:
    """Check a selective start; returns (the record's ``selection``, the reused properties)."""
    chosen = check_selection(plan, pipeline_name, selected_steps)
    source_id = source_id or latest_source(records, pipeline_name)
    check_source(records, records.execution(source_id), pipeline_name, version)
    reused = reuse_from_source(records, plan, source_id, chosen)
    selection = {"selected_steps": sorted(chosen), "source_execution_id": source_id}
    return selection, reused
