"""Run one stored execution: the entry point where all state is gathered, once.

Builds the expression scope, the handler dispatch with argument resolution, the API gate,
caching and property files, and the listener that persists every step record; then hands
the plan to the orchestrator.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pipeline.core.names import utc_now
from pipeline.core.records import LineListener, StepListener, StepRecord
from pipeline.local import cache
from pipeline.local.api_gate import request_rejection
from pipeline.local.expressions import Scope, UnresolvedReference, resolve, walk
from pipeline.local.graph import JOB_NAME_VARIABLES, PipelineGraph, StepSpec
from pipeline.local.handlers import HANDLERS
from pipeline.local.handlers.base import EndpointManager, Handler, StepContext, job_name
from pipeline.local.handlers.jobs import stop_live_jobs
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

    def variables(self) -> dict[str, Any]:
        """The values ``{"Get": "Execution.X"}`` resolves to; CurrentDateTime is read each
        time it is resolved ("the time when the variable is being evaluated"). The job-name
        variables are each step's own (:func:`step_scope`)."""
        return {
            "PipelineName": self.pipeline_name,
            "PipelineArn": self.pipeline_arn,
            "PipelineExecutionId": self.execution_id,
            "PipelineExecutionArn": self.execution_arn,
            "StartDateTime": self.start,
            "CurrentDateTime": lambda: utc_now().isoformat(),
        }


def step_scope(scope: Scope, spec: StepSpec, execution_id: str, attempt: int) -> Scope:
    """``scope`` plus the job-name variable of a Processing or Training step: "the name of
    the processing/training job launched by the processing/training step" (the SDK's
    readthedocs), i.e. the job this attempt of ``spec`` runs."""
    names = [v for v, owner in JOB_NAME_VARIABLES.items() if owner == spec.step_type]
    if not names:
        return scope
    job = job_name(execution_id, spec.name, attempt)
    return replace(scope, execution={**scope.execution, names[0]: job})


def unsupported_steps(
    plan: PipelineGraph, handlers: Mapping[str, Handler] = HANDLERS
) -> list[StepSpec]:
    """The plan's steps of a type no handler knows, in plan order (checked before any run)."""
    return [s for s in plan.steps if s.step_type not in handlers]


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
    lines = _one_at_a_time(on_line)  # parallel steps' jobs print at once

    def context(step_name: str, attempt: int) -> StepContext:
        return StepContext(
            store_root,
            objects,
            region,
            identity.pipeline_name,
            identity.execution_id,
            records.layout.job_attempt(identity.execution_id, step_name, attempt),
            records.layout.log_attempt(identity.execution_id, step_name, attempt),
            endpoints,
            lines,
            job_starter,
            attempt=attempt,
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
    return run_plan(plan, scope, execute, persist, preset, selected, stop_live_jobs)


def _one_at_a_time(on_line: LineListener | None) -> LineListener | None:
    if on_line is None:
        return None
    lock = threading.Lock()

    def locked(step_name: str, line: str) -> None:
        with lock:
            on_line(step_name, line)

    return locked


def _executor(
    handlers: Mapping[str, Handler],
    context: Callable[[str, int], StepContext],
    records: Records,
    objects: ObjectStore,
    identity: ExecutionIdentity,
    produced: dict[str, Mapping[str, Any]],
) -> Executor:
    def execute(spec: StepSpec, scope: Scope, attempt: int) -> StepOutcome:
        args = resolve(
            dict(spec.arguments), step_scope(scope, spec, identity.execution_id, attempt)
        )
        rejection = request_rejection(spec, args, identity.execution_id)
        if rejection is not None:
            return StepOutcome("Failed", failure_reason=rejection)
        if not cache.is_enabled(spec):
            return run(spec, args, attempt, None)
        key = cache.cache_key(spec, args)
        entry_path = records.layout.cache_entry(identity.pipeline_name, cache.entry_name(key))
        with cache.exclusive(entry_path):  # parallel points compute a step once
            found = cache.lookup(entry_path, key, spec.cache, utc_now())
            if found.entry is None:
                outcome = run(spec, args, attempt, (entry_path, key))
                return replace(
                    outcome, metadata={**outcome.metadata, "CacheReason": f"miss: {found.reason}"}
                )
            damage = objects.damage_in(found.entry.properties)  # only as good as its objects
            if damage is not None:
                entry_path.unlink(missing_ok=True)  # not used again: the next run recomputes
                return StepOutcome(
                    "Failed",
                    failure_reason=f"cache hit of execution {found.entry.execution_id} not "
                    f"used: {damage}; run it again to compute the step anew",
                )
        produced[spec.name] = found.entry.properties
        return StepOutcome(
            "Succeeded",
            found.entry.properties,
            cache_hit=True,
            metadata={
                "SourceExecutionId": found.entry.execution_id,
                "CacheReason": f"hit: {found.reason}",
            },
        )

    def run(
        spec: StepSpec,
        args: dict[str, Any],
        attempt: int,
        entry: tuple[Path, cache.CacheKey] | None,
    ) -> StepOutcome:
        outcome = handlers[spec.step_type](spec, args, context(spec.name, attempt))
        if outcome.status == "Succeeded":
            outcome = replace(outcome, properties=_with_property_files(spec, outcome.properties))
            if entry is not None:
                entry_path, key = entry
                cache.remember(
                    entry_path,
                    cache.CacheEntry(
                        identity.execution_id, utc_now(), outcome.properties, key.attributes
                    ),
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
