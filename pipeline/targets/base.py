"""The one interface run_pipeline.py drives, whatever the target.

Two implementations: ``pipeline.targets.sagemaker.SageMakerTarget`` (boto3 → SageMaker
Pipelines) and ``pipeline.targets.local.LocalTarget`` (the embedded engine). Records are plain
frozen dataclasses so the console module can format both the same way and ``--json`` has one
shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class PipelineDefinition:
    """A built pipeline: what --upsert sends.

    ``artifacts`` maps every s3:// URI the definition references and the SDK would have
    uploaded while building it (code files, source tarballs) to its bytes; a target stores
    them before it stores the definition, so no definition ever points at a missing object.
    """

    name: str
    description: str
    definition: str
    artifacts: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class UpsertResult:
    """What --upsert did: ``changed`` is False when the target already held this exact
    pipeline (definition, description, role), in which case nothing was written."""

    pipeline_arn: str
    changed: bool
    version: int | None = None  # the stored version number where the target numbers them


@dataclass(frozen=True)
class StepRecord:
    """One step of one execution, as ListPipelineExecutionSteps describes it."""

    name: str
    step_type: str
    status: str  # Starting | Executing | Succeeded | Failed | Stopped
    started_at: datetime | None = None
    ended_at: datetime | None = None
    cache_hit: bool = False
    failure_reason: str | None = None
    log_path: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float | None:
        """Wall time of the step, or None while it runs or when unknown."""
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class EndpointRef:
    """An endpoint a run deployed. ``url`` is the local server's; None on SageMaker."""

    name: str
    url: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class ExecutionSummary:
    """An execution as a person (and --json) sees it."""

    pipeline_name: str
    execution_arn: str
    execution_id: str
    status: str  # Executing | Succeeded | Failed | Stopped | Stopping
    failure_reason: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    steps: tuple[StepRecord, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)
    model_package_arn: str | None = None
    endpoint: EndpointRef | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    quality_report_uri: str | None = None  # where the model-quality report (evaluation) is
    report: str | None = None  # the execution's HTML report, where one was written

    def to_json_dict(self) -> dict[str, Any]:
        """The --json object: stable keys, plain JSON types."""
        return {
            "pipeline_name": self.pipeline_name,
            "execution_arn": self.execution_arn,
            "execution_id": self.execution_id,
            "status": self.status,
            "failure_reason": self.failure_reason,
            "parameters": dict(self.parameters),
            "steps": [
                {
                    "name": s.name,
                    "type": s.step_type,
                    "status": s.status,
                    "cache_hit": s.cache_hit,
                    "duration_s": None if s.duration_s is None else round(s.duration_s, 3),
                    "failure_reason": s.failure_reason,
                    "log_path": s.log_path,
                }
                for s in self.steps
            ],
            "metrics": dict(self.metrics),
            "model_package_arn": self.model_package_arn,
            "endpoint": None
            if self.endpoint is None
            else {"name": self.endpoint.name, "url": self.endpoint.url},
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
            "quality_report_uri": self.quality_report_uri,
            "report": self.report,
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


StepListener = Callable[[StepRecord], None]
"""Called with a step's record each time its status changes (start, end)."""

LineListener = Callable[[str, str], None]
"""Called with (step name, line) for each line a running job prints (--follow)."""


class Target(Protocol):
    """Where a pipeline lives and runs. Every method raises a MoonpipeError for people."""

    name: str
    runs_in_foreground: bool  # True: wait() is where the execution actually runs
    notes: list[str]  # one-line remarks for people, printed after the result

    def upsert_pipeline(self, pipeline: PipelineDefinition, role_arn: str | None) -> UpsertResult:
        """Store the artifacts, then create or update the pipeline unless it is unchanged."""
        ...

    def check_start_of(self, pipeline: PipelineDefinition, parameters: Mapping[str, Any]) -> None:
        """Refuse now what a start of ``pipeline`` with these overrides would refuse.

        Called by ``--upsert --start`` before the upsert, so a refused start stores nothing.
        """
        ...

    def pipeline_parameters(self, pipeline_name: str) -> list[dict[str, Any]]:
        """The stored definition's ``Parameters`` list (raises PipelineNotFoundError)."""
        ...

    def start_execution(self, pipeline_name: str, parameters: Mapping[str, Any]) -> str:
        """Start an execution with these overrides (already checked); return its ARN."""
        ...

    def wait(self, execution_arn: str, on_step: StepListener) -> ExecutionSummary:
        """Follow (or, locally, run) the execution to its end, reporting each step."""
        ...

    def describe_execution(self, execution_ref: str) -> ExecutionSummary:
        """One execution by id or ARN (raises ExecutionNotFoundError)."""
        ...

    def stop_execution(self, execution_ref: str) -> ExecutionSummary:
        """Stop a running execution (StopPipelineExecution); it ends Stopped.

        Raises a MoonpipeError with exit code 2 if the execution has already ended.
        """
        ...

    def list_executions(self, pipeline_name: str) -> list[ExecutionSummary]:
        """The pipeline's executions, newest first (steps may be left empty)."""
        ...

    def list_endpoints(self) -> list[EndpointRef]:
        """Every endpoint with its status (and URL, locally)."""
        ...

    def invoke_endpoint(self, name: str, body: bytes, content_type: str, accept: str) -> bytes:
        """One request to a serving endpoint; a 4xx becomes an EndpointError."""
        ...

    def delete_endpoint(self, name: str) -> None:
        """Delete the endpoint (locally: stop its server)."""
        ...
