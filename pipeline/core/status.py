"""The statuses of executions and steps, and the sets of them every room asks about.

The values are SageMaker's own words (PipelineExecutionStatus and StepStatus in the
API model), so a status read from a record, a Describe* response or a local run compares
equal to the member; ``Pending``, ``NotRun`` and ``Untaken`` are ours: a sweep point or a
step not started yet (its execution still runs), a step that never ran in an execution that
has ended (after a failure or a stop), a step on the branch a condition did not take.
"""

from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    """One status; a ``str`` so records, JSON and comparisons with text keep working."""

    PENDING = "Pending"
    STARTING = "Starting"
    EXECUTING = "Executing"
    STOPPING = "Stopping"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    STOPPED = "Stopped"
    NOT_RUN = "NotRun"
    UNTAKEN = "Untaken"

    def __str__(self) -> str:
        """The word itself (an Enum mixed with str prints "Status.FAILED" otherwise)."""
        return str.__str__(self)

    def __format__(self, spec: str) -> str:
        """The word itself in f-strings and format(), whatever the Python version."""
        return str.__format__(self, spec)


ACTIVE = frozenset({Status.STARTING, Status.EXECUTING, Status.STOPPING})
"""Not ended: a runner (or the service) still owns the execution or step."""

ENDED = frozenset({Status.SUCCEEDED, Status.FAILED, Status.STOPPED})
"""Final: nothing will change the record again (but a retry, which starts a new attempt)."""

RETRYABLE = frozenset({Status.FAILED, Status.STOPPED})
"""What RetryPipelineExecution accepts."""

SELECTION_SOURCES = frozenset({Status.SUCCEEDED, Status.FAILED})
"""What a selective execution may reuse steps from (SageMaker: "Failed or Success")."""


def is_active(status: str | None) -> bool:
    """True while the execution or step has not ended."""
    return status in ACTIVE


def is_ended(status: str | None) -> bool:
    """True once nothing will change it again."""
    return status in ENDED
