"""Turn stored execution and step records into the ExecutionSummary people and --json see.

It reads step *properties* by their Describe* shapes (ModelPackageArn, EndpointArn,
PropertyFiles), never by step name, so it works for any definition.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from pipeline.core.quality import (
    is_quality_report,
    quality_metrics,
    statistics_uri,
    training_metrics,
)
from pipeline.core.records import EndpointRef, ExecutionSummary, StepRecord
from pipeline.core.text import plain_or_none
from pipeline.local.store.objects import ObjectStore, StoreError
from pipeline.local.store.records import Records


def summarize(
    records: Records, objects: ObjectStore, execution_id: str, with_steps: bool = True
) -> ExecutionSummary:
    """The summary of one stored execution."""
    data = records.execution(execution_id)
    steps = records.steps(execution_id)  # metrics come from the steps, even in a listing
    properties = [p for _, p in steps if isinstance(p, Mapping)]
    package_arn = _first(properties, "ModelPackageArn")
    report_uri, quality = quality_report(objects, properties)
    report_file = records.layout.report(execution_id)
    return ExecutionSummary(
        pipeline_name=data.pipeline_name,
        execution_arn=data.execution_arn,
        execution_id=data.execution_id,
        status=data.status,
        failure_reason=plain_or_none(data.failure_reason),  # a job's text: no escapes
        parameters=data.parameters,
        steps=tuple(_plain(record) for record, _ in steps) if with_steps else (),
        metrics={**quality_metrics(quality), **training_metrics(properties)},
        model_package_arn=package_arn,
        endpoint=_endpoint(properties),
        started_at=parse_time(data.started_at),
        ended_at=parse_time(data.ended_at),
        quality_report_uri=report_uri,
        report=str(report_file) if report_file.is_file() else None,
        display_name=data.extra.get("display_name"),
        running_s=running_seconds(data.started_at, data.ended_at, data.extra.get("attempts")),
    )


def _plain(record: StepRecord) -> StepRecord:
    """The step with its reason (a job's own text) stripped of terminal control sequences."""
    return replace(record, failure_reason=plain_or_none(record.failure_reason))


def running_seconds(started_at: str | None, ended_at: str | None, attempts: Any) -> float | None:
    """How long a retried execution ran: each attempt from its start (the first: the
    execution's start; a later one: when --retry resumed it) to its end, the idle time
    between them left out. None when it was never retried (the wall time is the running
    time), has not ended, or was retried before resumption times were recorded."""
    if not attempts or not started_at or not ended_at:
        return None
    total, start = 0.0, started_at
    for attempt in attempts:
        end, resumed = attempt.get("ended_at"), attempt.get("resumed_at")
        if not end or not resumed:
            return None
        total += _seconds_between(start, end)
        start = resumed
    return total + _seconds_between(start, ended_at)


def _seconds_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _first(properties: Iterable[Mapping[str, Any]], key: str) -> Any:
    return next((p[key] for p in properties if p.get(key)), None)


def _endpoint(properties: list[Mapping[str, Any]]) -> EndpointRef | None:
    found = next((p for p in properties if p.get("EndpointArn")), None)
    if found is None:
        return None
    return EndpointRef(found["EndpointName"], found.get("EndpointUrl"), found.get("EndpointStatus"))


def quality_report(
    objects: ObjectStore, properties: list[Mapping[str, Any]]
) -> tuple[str | None, Mapping[str, Any]]:
    """(URI, document) of the quality report: the package's ModelMetrics, else a property
    file holding such a report."""
    candidates = [uri for uri in map(statistics_uri, properties) if uri is not None]
    for props in properties:
        candidates.extend(str(u) for u in (props.get("PropertyFiles") or {}).values())
    for uri in candidates:
        report = load_json(objects, uri)
        if is_quality_report(report):
            return uri, report
    return None, {}


def load_json(objects: ObjectStore, uri: str) -> Any:
    """The stored JSON object at ``uri``; None when it is missing or not JSON."""
    try:
        return json.loads(objects.get(uri))
    except (StoreError, ValueError):
        return None


def parse_time(text: str | None) -> datetime | None:
    """A stored ISO 8601 time (None stays None)."""
    return None if not text else datetime.fromisoformat(text)
