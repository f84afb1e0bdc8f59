"""The report model: plain data built from an execution's records, before any markup.

Studio's views, one dataclass each: the execution with its parameters (overrides marked),
every step of the definition with its status (a step that has not started is Pending while
the execution runs, NotRun once it has ended, Untaken on the branch a condition did not
take), request, outputs and log tail, the model-quality
metrics, the training metric series, the registered model package and the endpoint.
The same model feeds the HTML template, ``--json`` and the console.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from pipeline.core.quality import QUALITY_KEY
from pipeline.core.records import ExecutionFacts, StepRecord
from pipeline.core.status import Status, is_active
from pipeline.local.graph import PipelineGraph, parse_definition, upstream

STATUSES = ("Succeeded", "Failed", "Executing", "Stopped", "Pending", "NotRun", "Untaken")
"""A graph node's status: the step's own once it started; before that Pending (the execution
still runs), NotRun (it ended first) or Untaken (a condition chose the other branch)."""
SCALAR_METRICS = ("accuracy", "precision", "recall", "f1", "auc")
MAX_JSON_CHARS = 20_000


@dataclass(frozen=True)
class ParameterRow:
    """One pipeline parameter: its default and the value this execution used."""

    name: str
    type: str
    default: Any
    value: Any
    overridden: bool


@dataclass(frozen=True)
class StepView:
    """One step of the definition as the report shows it."""

    name: str
    step_type: str
    display_name: str
    description: str
    status: str  # one of STATUSES
    duration_s: float | None = None
    cache_hit: bool = False
    source_execution: str | None = None
    branch: bool | None = None
    failure_reason: str | None = None
    request: str = ""
    outputs: str = ""
    log_path: str | None = None
    log_tail: tuple[str, ...] = ()
    cache: str | None = None  # why the step was, or was not, a cache hit
    attempt_count: int | None = None  # AttemptCount (RetryPolicies)
    attempts: tuple[str, ...] = ()  # each earlier attempt that failed and was retried


@dataclass(frozen=True)
class ModelPackageView:
    """The model package a RegisterModel step created."""

    arn: str
    group: str | None
    version: int | None
    approval_status: str | None


@dataclass(frozen=True)
class EndpointView:
    """The endpoint an Endpoint step created or updated."""

    name: str
    status: str | None
    url: str | None


@dataclass(frozen=True)
class Report:
    """One execution, ready to render."""

    target: str
    pipeline_name: str
    execution_id: str
    execution_arn: str
    status: str
    failure_reason: str | None
    started_at: str | None
    ended_at: str | None
    duration_s: float | None
    parameters: tuple[ParameterRow, ...]
    steps: tuple[StepView, ...]
    metrics: Mapping[str, float]
    confusion_matrix: Mapping[str, Mapping[str, int]]
    roc: Mapping[str, list[float]]
    precision_recall: Mapping[str, list[float]]
    training_series: Mapping[str, list[float]]
    training_final: Mapping[str, float]
    quality_report_uri: str | None
    model_package: ModelPackageView | None
    endpoint: EndpointView | None
    notes: tuple[str, ...] = ()

    @property
    def accuracy(self) -> float | None:
        """The test accuracy, the number executions are compared by first."""
        return self.metrics.get("accuracy")

    def overridden(self) -> dict[str, Any]:
        """Parameters whose value differs from the definition's default."""
        return {p.name: p.value for p in self.parameters if p.overridden}

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON types (for --json and tests)."""
        return asdict(self)


def build_report(facts: ExecutionFacts) -> Report:
    """The report model of one execution."""
    doc = json.loads(facts.definition)
    records = {record.name: (record, props) for record, props in facts.steps}
    quality = (facts.quality_report or {}).get(QUALITY_KEY) or {}
    all_props = [p for _, p in facts.steps if isinstance(p, Mapping)]
    statuses = node_statuses(
        parse_definition(facts.definition),
        {name: record for name, (record, _) in records.items()},
        facts.status,
    )
    duration = None
    if facts.started_at and facts.ended_at:
        duration = (facts.ended_at - facts.started_at).total_seconds()
    return Report(
        target=facts.target,
        pipeline_name=facts.pipeline_name,
        execution_id=facts.execution_id,
        execution_arn=facts.execution_arn,
        status=facts.status,
        failure_reason=facts.failure_reason,
        started_at=_iso(facts.started_at),
        ended_at=_iso(facts.ended_at),
        duration_s=duration,
        parameters=tuple(parameter_rows(doc.get("Parameters") or [], facts.parameters)),
        steps=tuple(
            _step_view(raw, records.get(raw["Name"]), statuses[raw["Name"]], facts)
            for raw in definition_steps(doc.get("Steps") or [])
        ),
        metrics=scalar_metrics(quality),
        confusion_matrix=quality.get("confusion_matrix") or {},
        roc=quality.get("receiver_operating_characteristic_curve") or {},
        precision_recall=quality.get("precision_recall_curve") or {},
        training_series=_merged(all_props, "MetricSeries"),
        training_final={
            m["MetricName"]: float(m["Value"])
            for p in all_props
            for m in p.get("FinalMetricDataList") or []
        },
        quality_report_uri=facts.quality_report_uri,
        model_package=_model_package(all_props),
        endpoint=_endpoint(all_props),
        notes=tuple(facts.notes),
    )


def definition_steps(raw_steps: Sequence[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Every step of a definition, condition branches included, in definition order."""
    for raw in raw_steps:
        yield raw
        args = raw.get("Arguments") or {}
        yield from definition_steps(args.get("IfSteps") or [])
        yield from definition_steps(args.get("ElseSteps") or [])


def parameter_rows(
    declared: Sequence[Mapping[str, Any]], values: Mapping[str, Any]
) -> Iterator[ParameterRow]:
    """Each declared parameter with the execution's value; overridden = differs from default."""
    for entry in declared:
        name, default = entry["Name"], entry.get("DefaultValue")
        value = values.get(name, default)
        yield ParameterRow(
            name, entry.get("Type", "String"), default, value, not _same_value(value, default)
        )


def scalar_metrics(quality: Mapping[str, Any]) -> dict[str, float]:
    """Every ``{"value": number}`` entry of the quality report, the headline ones first."""
    found = {
        name: float(entry["value"])
        for name, entry in quality.items()
        if isinstance(entry, Mapping) and isinstance(entry.get("value"), (int, float))
    }
    first = {k: found[k] for k in SCALAR_METRICS if k in found}
    return {**first, **{k: v for k, v in found.items() if k not in first}}


def node_statuses(
    graph: PipelineGraph, records: Mapping[str, StepRecord], execution_status: str
) -> dict[str, str]:
    """Every step's status in :data:`STATUSES`' words, from the step records (by name).

    A step that never started is Untaken when a condition it waits on (a gate, or a step
    upstream of it that is Untaken) went the other way; otherwise Pending while the
    execution is active and NotRun once it has ended. The graph is in topological order.
    """
    found: dict[str, str] = {}
    for spec in graph.steps:
        record = records.get(spec.name)
        if record is not None:
            found[spec.name] = _started_status(record.status)
        elif any(_took_other_branch(records.get(g.condition), g.branch) for g in spec.gates) or any(
            found.get(name) == Status.UNTAKEN for name in upstream(spec)
        ):
            found[spec.name] = Status.UNTAKEN
        else:
            found[spec.name] = Status.PENDING if is_active(execution_status) else Status.NOT_RUN
    return found


def _started_status(status: str) -> str:
    if status in (Status.STARTING, Status.STOPPING):
        return Status.EXECUTING
    return status if status in STATUSES else Status.NOT_RUN


def _took_other_branch(condition: StepRecord | None, branch: bool) -> bool:
    """True when ``condition`` ran and chose the branch that is not ``branch``."""
    if condition is None:
        return False
    outcome = condition.metadata.get("Outcome")
    if isinstance(outcome, str):  # SageMaker's step metadata says "True"/"False"
        outcome = {"true": True, "false": False}.get(outcome.lower())
    return isinstance(outcome, bool) and outcome != branch


def _step_view(
    raw: Mapping[str, Any],
    found: tuple[StepRecord, Any] | None,
    status: str,
    facts: ExecutionFacts,
) -> StepView:
    record, props = found if found is not None else (None, None)
    props = props if isinstance(props, Mapping) else {}
    metadata = record.metadata if record is not None else {}
    outcome = metadata.get("Outcome")
    return StepView(
        name=raw["Name"],
        step_type=raw.get("Type", ""),
        display_name=raw.get("DisplayName") or raw["Name"],
        description=raw.get("Description") or "",
        status=status,
        duration_s=record.duration_s if record is not None else None,
        cache_hit=bool(record and record.cache_hit),
        source_execution=metadata.get("SourceExecutionId"),
        branch=outcome if isinstance(outcome, bool) else None,
        failure_reason=record.failure_reason if record is not None else None,
        request=_json(step_request(raw, props)),
        outputs=_json(step_outputs(raw, props)) if props else "",
        log_path=record.log_path if record is not None else None,
        log_tail=tuple(facts.log_tails.get(raw["Name"], ())),
        cache=metadata.get("CacheReason"),
        attempt_count=record.attempt_count if record is not None else None,
        attempts=tuple(
            f"attempt {a.get('AttemptCount')}: {a.get('ExceptionType')}: {a.get('FailureReason')}"
            for a in metadata.get("Attempts") or []
        ),
    )


def step_request(raw: Mapping[str, Any], props: Mapping[str, Any]) -> dict[str, Any]:
    """The step's arguments, each resolved where the step's properties have it."""
    args = raw.get("Arguments") or {}
    return {k: props.get(k, v) for k, v in args.items() if k not in ("IfSteps", "ElseSteps")}


def step_outputs(raw: Mapping[str, Any], props: Mapping[str, Any]) -> dict[str, Any]:
    """The step's properties that are not its arguments: what it produced."""
    args = raw.get("Arguments") or {}
    return {k: v for k, v in props.items() if k not in args}


def _merged(properties: Sequence[Mapping[str, Any]], key: str) -> dict[str, list[float]]:
    merged: dict[str, list[float]] = {}
    for props in properties:
        for name, values in (props.get(key) or {}).items():
            merged[name] = [float(v) for v in values]
    return merged


def _model_package(properties: Sequence[Mapping[str, Any]]) -> ModelPackageView | None:
    found = next((p for p in properties if p.get("ModelPackageArn")), None)
    if found is None:
        return None
    version = found.get("ModelPackageVersion")
    return ModelPackageView(
        found["ModelPackageArn"],
        found.get("ModelPackageGroupName"),
        int(version) if version is not None else None,
        found.get("ModelApprovalStatus"),
    )


def _endpoint(properties: Sequence[Mapping[str, Any]]) -> EndpointView | None:
    found = next((p for p in properties if p.get("EndpointArn")), None)
    if found is None:
        return None
    return EndpointView(
        found["EndpointName"], found.get("EndpointStatus"), found.get("EndpointUrl")
    )


def _same_value(value: Any, default: Any) -> bool:
    if isinstance(value, (int, float)) and isinstance(default, (int, float)):
        return float(value) == float(default)
    return value == default


def _json(value: Mapping[str, Any]) -> str:
    text = json.dumps(value, indent=2, default=str)
    if len(text) > MAX_JSON_CHARS:
        return text[:MAX_JSON_CHARS] + f"\n… ({len(text) - MAX_JSON_CHARS} more characters)"
    return text


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")
