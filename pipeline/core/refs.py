"""The one parser of execution references: an id, or an ARN that ends in one.

SageMaker names an execution by ARN (``arn:aws:sagemaker:…:pipeline/<name>/execution/<id>``);
people type the id. Every command that takes an execution takes either.
"""

from __future__ import annotations

from pipeline.core.errors import ExecutionNotFoundError

_EXECUTION = "/execution/"


def execution_id(ref: str) -> str:
    """The id in ``ref`` (an id or an execution ARN); ExecutionNotFoundError if it has none."""
    found = ref.strip().rstrip("/").rsplit("/", 1)[-1]
    if not found:
        raise ExecutionNotFoundError(
            f"{ref!r} is not an execution id or ARN; list them with --list-executions"
        )
    return found


def pipeline_arn_of(execution_arn: str) -> str:
    """The pipeline's ARN from one of its executions' ARN."""
    return execution_arn.split(_EXECUTION)[0]


def pipeline_name_of(execution_arn: str) -> str:
    """The pipeline's name from an execution ARN (``…:pipeline/<name>/execution/<id>``)."""
    return execution_arn.split(":pipeline/")[-1].split("/")[0]
