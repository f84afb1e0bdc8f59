"""The one interface the front drives, whatever the target: every verb it uses, declared here.

Two implementations: ``pipeline.targets.local.LocalTarget`` (the embedded engine, a thin
adapter over pipeline.local.runner) and ``pipeline.targets.sagemaker.SageMakerTarget``
(boto3 → SageMaker). The front (commands, sweep, report, UI) is type-checked against this
Protocol and never asks which target it holds: where a target has nothing to do for a verb,
its method is a no-op (or says, in one MoonpipeError, why the verb does not apply there).
The records it returns live in pipeline.core.records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from pipeline.core.records import (
    EndpointRef,
    ExecutionData,
    ExecutionFacts,
    ExecutionSummary,
    ModelPackageRef,
    PipelineDefinition,
    Selection,
    StepListener,
    StepLog,
    UpsertResult,
)
from pipeline.local.graph import PipelineGraph


class PointRun(Protocol):
    """One started sweep point, as the sweep follows it."""

    def exited(self) -> bool | None:
        """True once our process running it has ended; None when the service runs it."""
        ...

    def wait(self) -> None:
        """Block until our process running it has ended (returns at once on the service)."""
        ...


class PointRuns(Protocol):
    """How a target runs a started sweep point: a local worker, or nothing (the service)."""

    def launch(self, execution_arn: str) -> PointRun:
        """Run the recorded execution (locally: in a worker of its own); return its handle."""
        ...


class Target(Protocol):
    """Where a pipeline lives and runs. Every method raises a MoonpipeError for people."""

    name: str  # for people ("on local"); never branched on outside pipeline/targets/
    store: str | None  # the local store's folder (absolute); None where the service keeps all
    notes: list[str]  # one-line remarks for people, printed after the result
    default_parallel: int  # sweep points running at once unless --max-parallel says

    # -- checks a command makes before its heavy work --------------------------------------

    def check_upsert_settings(self, role_arn: str | None) -> None:
        """Refuse now (before the SDK builds anything) what an upsert would need and lack."""
        ...

    def check_follow(self) -> None:
        """Refuse --follow where a job's output cannot be streamed (no-op where it can)."""
        ...

    # -- pipelines --------------------------------------------------------------------------

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

    def pipeline_graph(self, pipeline_name: str) -> PipelineGraph:
        """The stored (newest) definition, parsed: its steps, edges and parameters."""
        ...

    # -- executions -------------------------------------------------------------------------

    def start_execution(
        self,
        pipeline_name: str,
        parameters: Mapping[str, Any],
        display_name: str | None = None,
        selection: Selection | None = None,
    ) -> str:
        """Start an execution with these overrides (already checked); return its ARN.

        ``display_name`` is SageMaker's PipelineExecutionDisplayName (a sweep names its
        points); ``selection`` its SelectiveExecutionConfig.
        """
        ...

    def wait(self, execution_arn: str, on_step: StepListener) -> ExecutionSummary:
        """Follow (or, locally, run) the execution to its end, reporting each step."""
        ...

    def run_or_follow(
        self, execution_arn: str, wait: bool, on_step: StepListener
    ) -> ExecutionSummary:
        """What --start does once the execution is started: locally the execution runs
        here, to its end, whatever ``wait`` says (there is no service to hand it to); on
        SageMaker it is followed to its end only with ``wait``, else described once."""
        ...

    def describe_execution(self, execution_ref: str) -> ExecutionSummary:
        """One execution by id or ARN (raises ExecutionNotFoundError)."""
        ...

    def stop_execution(self, execution_ref: str) -> ExecutionSummary:
        """Stop a running execution (StopPipelineExecution); it ends Stopped.

        Raises a MoonpipeError with exit code 2 if the execution has already ended.
        """
        ...

    def retry_execution(self, execution_ref: str) -> str:
        """RetryPipelineExecution: the same execution resumes from the steps that did not
        succeed; returns its ARN (follow it with :meth:`wait`)."""
        ...

    def list_executions(self, pipeline_name: str) -> list[ExecutionSummary]:
        """The pipeline's executions, newest first (steps may be left empty)."""
        ...

    def reusable_executions(
        self, pipeline_name: str, wanted: Sequence[Mapping[str, Any]]
    ) -> list[ExecutionSummary | None]:
        """For each resolved parameter set, the newest execution that already did exactly it
        (Succeeded, the current definition, not a selective run), else None."""
        ...

    def execution_metrics(self, execution_ref: str) -> dict[str, float]:
        """The execution's metrics (quality report and training metrics), for ranking."""
        ...

    def execution_facts(self, execution_ref: str) -> ExecutionFacts:
        """Everything a report or the UI shows of one execution, read from the records."""
        ...

    def execution_data(self, execution_ref: str) -> ExecutionData:
        """The data points and the trained model's folder, where the target has them."""
        ...

    def step_log(self, execution_ref: str, step_name: str, offset: int = 0) -> StepLog:
        """What the step's job printed, from character ``offset`` on (the UI streams it)."""
        ...

    # -- jobs and sweeps --------------------------------------------------------------------

    def warm_up(self) -> None:
        """Get ready to run jobs soon, changing nothing (locally: a job host starts importing,
        and serves the store only once an execution runs); may do nothing."""
        ...

    def stop_warm_host(self) -> int | None:
        """--stop-host: the warm job host leaves now; its pid, or None if none ran."""
        ...

    def point_runs(self, fresh: bool = False) -> PointRuns:
        """How this target runs started executions off the caller's path (sweep points, the
        UI's starts). ``fresh``: each in a new interpreter, never forked (locally), for a
        caller with threads of its own, such as the UI's server."""
        ...

    # -- reports ----------------------------------------------------------------------------

    def report_path(self, execution_id: str) -> Path:
        """Where an execution's HTML report is written unless --report-out says otherwise."""
        ...

    def comparison_path(self, execution_ids: Sequence[str]) -> Path:
        """Where a comparison page is written unless --report-out says otherwise."""
        ...

    def keeps_path(self, path: Path) -> bool:
        """True when ``path`` lies among what the target keeps on this machine, which
        --report-out must never write over (locally the store: its write-once objects and
        records); SageMaker keeps nothing here."""
        ...

    def draw_pages_later(
        self, execution_ids: Sequence[str], comparison: Path | None, pages: Sequence[str]
    ) -> None:
        """After a sweep: draw the points' ``pages`` and the comparison page off the
        command's path (a note says so); where the target keeps no pages, a note says that."""
        ...

    # -- endpoints --------------------------------------------------------------------------

    def list_endpoints(self) -> list[EndpointRef]:
        """Every endpoint with its status (and URL, locally)."""
        ...

    def invoke_endpoint(self, name: str, body: bytes, content_type: str, accept: str) -> bytes:
        """One request to a serving endpoint; a 4xx becomes an EndpointError."""
        ...

    def delete_endpoint(self, name: str) -> None:
        """Delete the endpoint (locally: stop its server)."""
        ...

    # -- model registry ---------------------------------------------------------------------

    def list_model_packages(self, group: str | None = None) -> list[ModelPackageRef]:
        """Registered model packages (of one group, or all), newest first."""
        ...

    def update_model_package(self, package_ref: str, approval_status: str) -> ModelPackageRef:
        """UpdateModelPackage: set a package version's ModelApprovalStatus (Approved,
        Rejected or PendingManualApproval); ``package_ref`` is its ARN. The package as it
        is now."""
        ...

    def deploy_model_package(self, package_ref: str, endpoint_name: str) -> EndpointRef:
        """Serve an Approved package version (its ARN) from ``endpoint_name``: a model and an
        endpoint config of its own, then the endpoint created, or updated in place, under
        the pipeline's deploy rules (the API gate; one update of an endpoint at a time)."""
        ...
