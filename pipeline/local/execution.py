"""Run one stored execution: the entry point where all state is gathered, once.

Builds the expression scope, the handler dispatch with caching and property files, and the
listener that persists every step record; then hands the plan to the orchestrator.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pipeline.core.names import utc_now
from pipeline.core.records import LineListener, StepListener, StepRecord
from pipeline.local import cache
from pipeline.local.api_gate import request_rejection
from pipeline.local.expressions import Scope, UnresolvedReference, walk
from pipeline.local.graph import PipelineGraph, StepSpec
from pipeline.local.handlers import HANDLERS
from pipeline.local.handlers.base import EndpointManager, Handler, StepContext
from pipeline.local.orchestrator import Executor, RunResult, StepOutcome, run_plan
from pipeline.local.store.objects import ObjectStore, StoreError
from pipeline.local.store.records import Records


@dataclass(frozen=True)
class ExecutionIdentity:
    """The Execution.* variables of one run, plus where it lives."""

    pipeline_name: str
    pipeline_arn: str
    execution_id: str
    execution_arn: str
    start: str

    def variables(self) -> dict[str, str]:
        """The values ``{"Get": "Execution.X"}`` resolves to."""
        return {
            "PipelineName": self.pipeline_name,
            "PipelineArn": self.pipeline_arn,
            "PipelineExecutionId": self.execution_id,
            "PipelineExecutionArn": self.execution_arn,
            "StartDateTime": self.start,
            "CurrentDateTime": self.start,
        }


def unsupported_step_types(
    plan: PipelineGraph, handlers: Mapping[str, Handler] = HANDLERS
) -> list[str]:
    """Step types in the plan no handler knows (checked before anything runs)."""
    return sorted({s.step_type for s in plan.steps} - set(handlers))


def run_execution(
    store_root: Path,
    region: str,
    plan: PipelineGraph,
    identity: ExecutionIdentity,
    parameters: Mapping[str, Any],
    on_step: StepListener,
    endpoints: Callable[[], EndpointManager],
    on_line: LineListener | None = None,
    handlers: Mapping[str, Handler] = HANDLERS,
    preset: Mapping[str, Mapping[str, Any]] | None = None,
    selected: frozenset[str] | None = None,
    job_starter: Any = None,
) -> RunResult:
    """Run every step of ``plan`` for this execution, persisting each record as it changes.

    ``preset`` and ``selected``: see :func:`pipeline.local.orchestrator.run_plan`.
    """
    objects, records = ObjectStore(store_root), Records(store_root)
    produced: dict[str, Mapping[str, Any]] = {}

    def context(step_name: str) -> StepContext:
        return StepContext(
            store_root,
            objects,
            region,
            identity.pipeline_name,
            identity.execution_id,
            records.layout.job(identity.execution_id, step_name),
            records.layout.log(identity.execution_id, step_name),
            endpoints,
            on_line,
            job_starter,
        )

    def persist(record: StepRecord) -> None:
        records.save_step(identity.execution_id, record, produced.get(record.name))
        on_step(record)

    scope = Scope(
        parameters=dict(parameters),
        execution=identity.variables(),
        read_json=lambda uri: _read_json(objects, uri),
    )
    execute = _executor(handlers, context, records, objects, identity, produced)
    return run_plan(plan, scope, execute, persist, preset, selected)


def _executor(
    handlers: Mapping[str, Handler],
    context: Any,
    records: Records,
    objects: ObjectStore,
    identity: ExecutionIdentity,
    produced: dict[str, Mapping[str, Any]],
) -> Executor:
    def execute(spec: StepSpec, args: dict[str, Any], scope: Scope) -> StepOutcome:
        rejection = request_rejection(spec, args, identity.execution_id)
        if rejection is not None:
            return StepOutcome("Failed", failure_reason=rejection)
        if not cache.is_enabled(spec):
            return run(spec, args, None)
        entry_path = records.layout.cache_entry(
            identity.pipeline_name, cache.cache_key(spec, scope)
        )
        with cache.exclusive(entry_path):  # parallel points compute a step once
            hit = cache.lookup(entry_path, spec.cache_config.get("ExpireAfter"), utc_now())
            if hit is None:
                return run(spec, args, entry_path)
            damage = objects.damage_in(hit.properties)  # a hit is only as good as its objects
            if damage is not None:
                entry_path.unlink(missing_ok=True)  # not used again: the next run recomputes
                return StepOutcome(
                    "Failed",
                    failure_reason=f"cache hit of execution {hit.execution_id} not used: "
                    f"{damage}; run it again to compute the step anew",
                )
        produced[spec.name] = hit.properties
        return StepOutcome(
            "Succeeded",
            hit.properties,
            cache_hit=True,
            metadata={"SourceExecutionId": hit.execution_id},
        )

    def run(spec: StepSpec, args: dict[str, Any], entry_path: Path | None) -> StepOutcome:
        outcome = handlers[spec.step_type](spec, args, context(spec.name))
        if outcome.status == "Succeeded":
            outcome = replace(outcome, properties=_with_property_files(spec, outcome.properties))
            if entry_path is not None:
                cache.remember(
                    entry_path,
                    cache.CacheEntry(identity.execution_id, utc_now(), outcome.properties),
                )
        produced[spec.name] = outcome.properties
        return outcome

    return execute


def _with_property_files(spec: StepSpec, properties: Mapping[str, Any]) -> dict[str, Any]:
    """Add ``PropertyFiles.<name>`` = the stored file's URI, which Std:JsonGet reads."""
    if not spec.property_files:
        return dict(properties)
    files = {}
    for entry in spec.property_files:
        output = entry["OutputName"]
        ref = f"Steps.{spec.name}.PropertyFiles.{entry['PropertyFileName']}"
        uri = walk(properties, f"ProcessingOutputConfig.Outputs['{output}'].S3Output.S3Uri", ref)
        files[entry["PropertyFileName"]] = f"{str(uri).rstrip('/')}/{entry['FilePath']}"
    return {**properties, "PropertyFiles": files}


def _read_json(objects: ObjectStore, uri: str) -> Any:
    try:
        return json.loads(objects.get(uri))
    except (StoreError, ValueError) as err:
        raise UnresolvedReference(uri, f"property file unreadable ({err})") from None
