"""The one interface the front drives, whatever the target.

Two implementations: ``pipeline.targets.sagemaker.SageMakerTarget`` (boto3 → SageMaker
Pipelines) and ``pipeline.targets.local.LocalTarget`` (the embedded engine). The records it
returns live in pipeline.core.records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from pipeline.core.records import (
    EndpointRef,
    ExecutionSummary,
    PipelineDefinition,
    StepListener,
    UpsertResult,
)


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

    def start_execution(
        self, pipeline_name: str, parameters: Mapping[str, Any], display_name: str | None = None
    ) -> str:
        """Start an execution with these overrides (already checked); return its ARN.

        ``display_name`` is SageMaker's PipelineExecutionDisplayName (a sweep names its points).
        """
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
