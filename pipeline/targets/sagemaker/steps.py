"""What SageMaker's execution APIs return, as the Target protocol's records.

ListPipelineExecutionSteps rows become StepRecords (step type from the metadata key, log
location in CloudWatch); the execution's package and endpoint come from its steps' metadata.
Split from pipeline/targets/sagemaker.py; the report's AWS source reads steps the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.core.records import EndpointRef, StepRecord

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
    )


def _log_path(kind: str, metadata: Mapping[str, Any]) -> str | None:
    """Where a job step's log lives: its CloudWatch log group and stream prefix."""
    if kind not in _LOG_GROUPS or "Arn" not in metadata[kind]:
        return None
    job = str(metadata[kind]["Arn"]).rsplit("/", 1)[-1]
    return f"CloudWatch /aws/sagemaker/{_LOG_GROUPS[kind]} stream {job}/..."


def metadata_arn(steps: tuple[StepRecord, ...], kind: str) -> str | None:
    for record in steps:
        arn = record.metadata.get(kind, {}).get("Arn")
        if arn:
            return str(arn)
    return None


def deployed_endpoint(steps: tuple[StepRecord, ...]) -> EndpointRef | None:
    arn = metadata_arn(steps, "Endpoint")
    return None if arn is None else EndpointRef(name=arn.rsplit("/", 1)[-1])


def present(text: Any) -> str | None:
    """Service strings that mean 'nothing' ('' and moto's 'None') become None."""
    return None if text in (None, "", "None") else str(text)
