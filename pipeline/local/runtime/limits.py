"""MaxRuntimeInSeconds as SageMaker applies it, and the status a job over its limit gets.

SageMaker's documentation (StoppingCondition, StopTrainingJob in the API reference): at the
limit "SageMaker sends the algorithm the SIGTERM signal, which delays job termination for
120 seconds. Algorithms can use this 120-second window to save the model artifacts, so the
results of training are not lost." A training job so ended is ``Stopped`` with the secondary
status ``MaxRuntimeExceeded`` ("The job stopped because it exceeded the maximum allowed
runtime", SecondaryStatusTransition), and what it saved in /opt/ml/model is still uploaded.
For processing the reference says only "After the condition is met, the processing job is
stopped" (ProcessingStoppingCondition): ``Stopped``; DescribeProcessingJob has no secondary
status, and FailureReason is set only "if it failed". What the *pipeline step* shows for a
job stopped so is not documented: locally the step fails, naming the limit (docs/isolation.md).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from dataclasses import dataclass
from typing import Any, Protocol

SAGEMAKER_GRACE_S = 120.0
DEFAULT_MAX_RUNTIME_S = 86400.0  # "The default value is 1 day."


class _Signalled(Protocol):
    def send_signal(self, sig: int) -> None: ...


@dataclass(frozen=True)
class Limit:
    """A job's StoppingCondition: SIGTERM at ``max_runtime_s``, SIGKILL ``grace_s`` later."""

    max_runtime_s: float = DEFAULT_MAX_RUNTIME_S
    grace_s: float = SAGEMAKER_GRACE_S

    @classmethod
    def of(cls, stopping_condition: Any, grace_s: float = SAGEMAKER_GRACE_S) -> Limit:
        """The limit a request's StoppingCondition sets (SageMaker's default: one day)."""
        value = (stopping_condition or {}).get("MaxRuntimeInSeconds")
        runtime = float(value) if isinstance(value, (int, float)) else DEFAULT_MAX_RUNTIME_S
        return cls(runtime, grace_s)


class Watch:
    """Applies a :class:`Limit` to a running job from a thread, while the caller reads its
    output and waits for it: SIGTERM at the limit, SIGKILL at the end of the grace period.

    With the job namespace the signal goes to the job's supervisor, which forwards SIGTERM
    to the job's process group (runproc.sh's bash and the python under it) and waits for
    them; SIGKILL ends the whole namespace. ``end()`` once the job has been waited for.
    """

    def __init__(self, job: _Signalled, limit: Limit) -> None:
        self.job, self.limit = job, limit
        self.over_limit = self.killed = False
        self._ended = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="job-limit", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        if self._ended.wait(self.limit.max_runtime_s):
            return
        self.over_limit = True
        self._send(signal.SIGTERM)
        if self._ended.wait(self.limit.grace_s):
            return
        self.killed = True
        self._send(signal.SIGKILL)

    def _send(self, sig: int) -> None:
        with contextlib.suppress(OSError):  # it ended meanwhile
            self.job.send_signal(sig)

    def end(self) -> None:
        """The job has ended (it was waited for): no signal is sent from now on."""
        self._ended.set()
        self._thread.join()


def training_status(over_limit: bool, exit_code: int, failure: str | None) -> dict[str, Any]:
    """DescribeTrainingJob's status fields for a job that ended so.

    Over the limit: Stopped / MaxRuntimeExceeded with no FailureReason whatever the exit
    code (the job was stopped, it did not fail); the model is uploaded as usual.
    """
    if over_limit:
        return {"TrainingJobStatus": "Stopped", "SecondaryStatus": "MaxRuntimeExceeded"}
    if exit_code == 0:
        return {"TrainingJobStatus": "Completed", "SecondaryStatus": "Completed"}
    return {"TrainingJobStatus": "Failed", "SecondaryStatus": "Failed", "FailureReason": failure}


def processing_status(over_limit: bool, exit_code: int, failure: str | None) -> dict[str, Any]:
    """DescribeProcessingJob's status fields (it has no secondary status)."""
    if over_limit:
        return {"ProcessingJobStatus": "Stopped"}
    if exit_code == 0:
        return {"ProcessingJobStatus": "Completed"}
    return {"ProcessingJobStatus": "Failed", "FailureReason": failure}


def over_limit_reason(kind: str, job_name: str, limit: Limit) -> str:
    """The step's failure reason when its job was stopped at MaxRuntimeInSeconds."""
    return (
        f"{kind} job {job_name} was stopped: it ran past StoppingCondition.MaxRuntimeInSeconds "
        f"({limit.max_runtime_s:g} s); status Stopped"
        + (", MaxRuntimeExceeded" if kind == "Training" else "")
        + "; raise the limit or make the job faster"
    )
