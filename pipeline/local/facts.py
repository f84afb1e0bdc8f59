"""What a report (or the UI) shows of one stored execution, read from the store's records.

Everything is found by the Describe* shapes of step properties, never by step name: the
quality report through ModelMetrics or a PropertyFile (pipeline.local.summary), the data
through Processing outputs named ``train`` and ``test``, the model through ModelArtifacts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pipeline.core.records import ExecutionData, ExecutionFacts, StepLog, StepRecord
from pipeline.core.status import is_active
from pipeline.local.store.objects import ObjectStore, StoreError
from pipeline.local.store.records import Records
from pipeline.local.summary import parse_time, quality_report

LOG_TAIL_LINES = 30
NO_MODEL = "no trained model in this execution"


def execution_facts(records: Records, objects: ObjectStore, execution_id: str) -> ExecutionFacts:
    """The facts of one stored execution (ExecutionNotFoundError if there is none)."""
    data = records.execution(execution_id)
    pipeline = records.pipeline(data.pipeline_name, data.pipeline_version)
    steps = records.steps(execution_id)
    props = [p for _, p in steps if isinstance(p, Mapping)]
    uri, report = quality_report(objects, props)
    return ExecutionFacts(
        target="local",
        pipeline_name=data.pipeline_name,
        execution_id=execution_id,
        execution_arn=data.execution_arn,
        status=data.status,
        definition=pipeline["PipelineDefinition"],
        parameters=data.parameters or {},
        steps=steps,
        failure_reason=data.failure_reason,
        started_at=parse_time(data.started_at),
        ended_at=parse_time(data.ended_at),
        quality_report=report,
        quality_report_uri=uri,
        log_tails={r.name: _tail(r.log_path) for r, _ in steps if r.log_path},
        notes=runtime_notes(r for r, _ in steps),
    )


def runtime_notes(records: Iterable[StepRecord]) -> tuple[str, ...]:
    """What the execution's jobs said about their runtime (the fallback, an image that differs
    from this machine's interpreter), each note once, in step order."""
    found = (note for r in records for note in (r.metadata or {}).get("RuntimeNotes", ()))
    return tuple(dict.fromkeys(found))


def execution_data(records: Records, objects: ObjectStore, execution_id: str) -> ExecutionData:
    """The data step's train/test points and the trained model's file in the store."""
    props = [p for _, p in records.steps(execution_id) if isinstance(p, Mapping)]
    train, test = (_points(objects, props, name) for name in ("train", "test"))
    model_uri = next(
        (
            p["ModelArtifacts"]["S3ModelArtifacts"]
            for p in props
            if isinstance(p.get("ModelArtifacts"), Mapping)
        ),
        None,
    )
    keep = records.layout.report_keep(execution_id)
    if model_uri is None:
        return ExecutionData(train, test, keep_dir=keep, note=NO_MODEL)
    try:
        model_file = objects.verified_path(model_uri)
    except StoreError as err:  # the page says so instead of drawing another model
        return ExecutionData(train, test, keep_dir=keep, note=f"no trained model shown: {err}")
    return ExecutionData(train, test, model_uri, model_file, keep)


def _points(objects: ObjectStore, properties: Sequence[Mapping[str, Any]], name: str) -> Any:
    """Rows ``label,x,y`` of every CSV under the Processing output named ``name``."""
    import numpy as np

    for props in properties:
        for output in (props.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
            uri = (output.get("S3Output") or {}).get("S3Uri")
            if output.get("OutputName") != name or not isinstance(uri, str):
                continue
            try:
                found = objects.verified_prefix(uri)
            except StoreError:
                return None  # damaged data is not drawn (the step that reads it fails)
            rows = [
                np.loadtxt(path, delimiter=",", ndmin=2)
                for rel, path in found
                if rel.endswith(".csv")
            ]
            rows = [r for r in rows if r.shape[1] >= 3]
            if rows:
                return np.concatenate(rows)
    return None


def _tail(log_path: str | None) -> list[str]:
    path = Path(log_path) if log_path else None
    if path is None or not path.is_file():
        return []
    return path.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_TAIL_LINES:]


def step_log(records: Records, execution_id: str, step_name: str, offset: int = 0) -> StepLog:
    """What the step's job wrote to its log, from character ``offset`` on.

    Steps that run no job (Condition, RegisterModel, ...) have no log: empty text and a note.
    A log is read as UTF-8 with bad bytes replaced: it is the job's own output.
    """
    known = {record.name: record for record, _ in records.steps(execution_id)}
    record = known.get(step_name)
    if record is None:
        return StepLog(step_name, "", None, False, f"step {step_name} has not started")
    ended = not is_active(record.status)
    if not record.log_path:
        return StepLog(step_name, "", None, ended, f"step {step_name} runs no job: no log")
    path = Path(record.log_path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return StepLog(step_name, "", str(path), ended, "its log file is gone")
    return StepLog(step_name, text[max(0, offset) :], str(path), ended)
