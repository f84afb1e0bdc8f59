"""An execution's steps: ListPipelineExecutionSteps, read once per ask, as StepRecords.

Rows become StepRecords (step type from the metadata key, log location in CloudWatch); the
execution's package and endpoint come from its steps' metadata. :class:`StepReader` is the
one place that calls the API, and the one that says so, once, when a SageMaker-compatible
endpoint does not implement it (moto answers HTTP 500).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from botocore.exceptions import ClientError

from pipeline.core.records import EndpointRef, StepRecord
from pipeline.core.refs import execution_id
from pipeline.targets.sagemaker.clients import Clients
from pipeline.targets.sagemaker.errors import client_error, is_unimplemented

STEPS_UNAVAILABLE = (
    "step details unavailable: this SageMaker API does not implement "
    "ListPipelineExecutionSteps, so only the execution status is shown"
)

# Metadata key of ListPipelineExecutionSteps -> the step type Studio shows.
_STEP_TYPES = {
    "ProcessingJob": "Processing",
    "TrainingJob": "Training",
    "Condition": "Condition",
    "Fail": "Fail",
    "RegisterModel": "RegisterModel",
    "Model": "Model",
    "EndpointConfig": "EndpointConfig",
    "Endpoint": "Endpoint",
}
_LOG_GROUPS = {"ProcessingJob": "ProcessingJobs", "TrainingJob": "TrainingJobs"}


class StepReader:
    """ListPipelineExecutionSteps for every room that needs an execution's steps.

    ``notes`` is the target's list of remarks for people: the first time the API turns out
    to be absent, :data:`STEPS_UNAVAILABLE` is added to it and the API is not asked again.
    """

    def __init__(self, clients: Clients, notes: list[str]) -> None:
        self._clients = clients
        self._notes = notes
        self._unavailable = False
        self._sources: dict[str, dict[str, str]] = {}  # source execution ARN -> its values

    def raw(self, arn: str) -> list[dict[str, Any]] | None:
        """The API's step entries, oldest first; None when the API does not offer them."""
        if self._unavailable:
            return None
        try:
            pages = self._clients.sm.get_paginator("list_pipeline_execution_steps").paginate(
                PipelineExecutionArn=arn, SortOrder="Ascending"
            )
            return [dict(s) for page in pages for s in page["PipelineExecutionSteps"]]
        except ClientError as exc:
            if not is_unimplemented(exc):
                raise client_error(exc, f"list the steps of {arn}") from None
            self._unavailable = True
            self._notes.append(STEPS_UNAVAILABLE)
            return None

    def records(self, arn: str) -> tuple[StepRecord, ...]:
        """The execution's steps as records, oldest first; () when the API is absent.

        A step a selective execution reused names its source (``ReusedBySelectionFrom``)
        and the values the source ran with (``SourceParameters``), as the local ones do."""
        found = []
        for raw in self.raw(arn) or ():
            record = step_record(raw)
            source = (raw.get("SelectiveExecutionResult") or {}).get("SourcePipelineExecutionArn")
            if source:
                extra = {
                    "ReusedBySelectionFrom": execution_id(str(source)),
                    "SourceParameters": self._parameters_of(str(source)),
                }
                record = replace(record, metadata={**record.metadata, **extra})
            found.append(record)
        return tuple(found)

    def _parameters_of(self, arn: str) -> dict[str, str]:
        """ListPipelineParametersForExecution, asked once per source execution."""
        if arn not in self._sources:
            try:
                pages = self._clients.sm.get_paginator(
                    "list_pipeline_parameters_for_execution"
                ).paginate(PipelineExecutionArn=arn)
                self._sources[arn] = {
                    p["Name"]: p["Value"] for page in pages for p in page["PipelineParameters"]
                }
            except ClientError as exc:
                raise client_error(exc, f"list the parameters of {arn}") from None
        return self._sources[arn]


def step_record(step: Mapping[str, Any]) -> StepRecord:
    """A ListPipelineExecutionSteps entry as a StepRecord."""
    metadata = dict(step.get("Metadata", {}))
    kind = next((k for k in metadata if k in _STEP_TYPES), "")
    return StepRecord(
        name=step["StepName"],
        step_type=_STEP_TYPES.get(kind, ""),
        status=step["StepStatus"],
        started_at=step.get("StartTime"),
        ended_at=step.get("EndTime"),
        cache_hit=bool(step.get("CacheHitResult", {}).get("SourcePipelineExecutionArn")),
        failure_reason=present(step.get("FailureReason")),
        log_path=_log_path(kind, metadata),
        metadata=metadata,
        attempt_count=step.get("AttemptCount"),
    )


def _log_path(kind: str, metadata: Mapping[str, Any]) -> str | None:
    """Where a job step's log lives: its CloudWatch log group and stream prefix."""
    if kind not in _LOG_GROUPS or "Arn" not in metadata[kind]:
        return None
    job = str(metadata[kind]["Arn"]).rsplit("/", 1)[-1]
    return f"CloudWatch /aws/sagemaker/{_LOG_GROUPS[kind]} stream {job}/..."


def metadata_arn(steps: Sequence[StepRecord], kind: str) -> str | None:
    """The ARN of the first step whose metadata names a ``kind`` (RegisterModel, ...)."""
    for record in steps:
        arn = record.metadata.get(kind, {}).get("Arn")
        if arn:
            return str(arn)
    return None


def deployed_endpoint(steps: Sequence[StepRecord]) -> EndpointRef | None:
    """The endpoint an execution's Endpoint step made, if any."""
    arn = metadata_arn(steps, "Endpoint")
    return None if arn is None else EndpointRef(name=arn.rsplit("/", 1)[-1])


def present(text: Any) -> str | None:
    """Service strings that mean 'nothing' ('' and moto's 'None') become None."""
    return None if text in (None, "", "None") else str(text)
