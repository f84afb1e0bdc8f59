"""What every step handler receives: the resolved arguments and an explicit context.

Handlers read no global state: the store, the execution's identity, the job folder and the
log callback all arrive here, assembled once by the runner (kfp.local's rule: access
global state at the entry point only).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pipeline.core.names import local_arn, utc_now
from pipeline.core.records import LineListener
from pipeline.local.graph import StepSpec
from pipeline.local.orchestrator import StepOutcome
from pipeline.local.store.objects import ObjectStore


class EndpointManager(Protocol):
    """What the engine asks of the endpoint helper (pipeline/local/endpoint/manager.py).

    The module itself satisfies it; tests hand in a recorder that starts no server.
    """

    def deploy(
        self,
        store_root: Path,
        endpoint_name: str,
        config_name: str,
        model_data: Path,
        environment: Mapping[str, str],
    ) -> Any:
        """Create the endpoint or swap its model in place; returns its info (``url``)."""
        ...

    def list_endpoints(self, store_root: Path) -> list[Any]:
        """Every endpoint's info (name, url, status)."""
        ...

    def invoke(
        self, store_root: Path, name: str, body: bytes, content_type: str, accept: str
    ) -> bytes:
        """One request to a serving endpoint."""
        ...

    def delete_endpoint(self, store_root: Path, name: str) -> None:
        """Stop and forget an endpoint."""
        ...


@dataclass(frozen=True)
class StepContext:
    """Everything a handler may touch for one step of one execution."""

    store_root: Path
    objects: ObjectStore
    region: str
    pipeline_name: str
    execution_id: str
    job_dir: Path
    log_path: Path
    endpoints: Callable[[], EndpointManager]  # imported on first deploy (not needed to run)
    on_line: LineListener | None = None
    job_starter: Any = None  # the run's pipeline.local.runtime.mode.JobRuntime (None: the
    # fallback's path mapping, plain subprocesses)
    attempt: int = 1  # RetryPolicies: each attempt is a new job, with a name of its own
    created_at: datetime = field(default_factory=utc_now)  # the job's CreationTime

    def arn(self, resource_type: str, name: str) -> str:
        """The local ARN of a resource this step made (pipeline.core.names' rule)."""
        return local_arn(self.region, resource_type, name)

    def job_name(self, step_name: str) -> str:
        """This attempt's job (or model) name: :func:`job_name`."""
        return job_name(self.execution_id, step_name, self.attempt)

    def lines_of(self, step_name: str) -> Callable[[str], None] | None:
        """A per-line callback that tags lines with the step's name (None: nobody listens)."""
        listener = self.on_line
        if listener is None:
            return None
        return lambda line: listener(step_name, line)


Handler = Callable[[StepSpec, dict[str, Any], StepContext], StepOutcome]


def job_name(execution_id: str, step_name: str, attempt: int = 1) -> str:
    """A job (or model) name unique to this execution, step and attempt, valid as SageMaker's.

    Step names may hold ``_``, which job and model names may not: later steps send this
    name (a Model step's ModelName in an endpoint config), so it must pass the API gate.
    A retried attempt (RetryPolicies) ends in ``-<attempt>``; the first has no suffix.
    """
    suffix = f"-{attempt}" if attempt > 1 else ""
    name = re.sub(r"[^a-zA-Z0-9-]", "-", f"pipelines-{execution_id}-{step_name}")
    return name[: 63 - len(suffix)].rstrip("-") + suffix


def failed(reason: str, **extra: Any) -> StepOutcome:
    """A failed outcome with a one-line reason."""
    return StepOutcome("Failed", failure_reason=" ".join(reason.split()) or "failed", **extra)
