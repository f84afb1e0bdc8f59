"""LocalTarget: the Target protocol on this machine, a thin adapter over the local engine.

Every verb is one call into pipeline.local: the store's pipelines (pipelines.py), a run's
lifecycle (runner.py: start, run, stop, settle, retry), what the records say of an execution
(summary.py, facts.py), sweep points (points.py), the registry (packages.py) and the
endpoints (endpoint/manager.py). Nothing here imports the SageMaker SDK (``--start`` alone
must start fast). Executions run in the foreground, inside :meth:`LocalTarget.wait`;
everything they write survives the process, so a later LocalTarget on the same store root
describes and lists them. Where an execution's page is drawn is the front's choice: the
``reports`` keeper it hands in (None: no page).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pipeline.core.records import (
    EndpointRef,
    ExecutionData,
    ExecutionFacts,
    ExecutionSummary,
    LineListener,
    ModelPackageRef,
    PipelineDefinition,
    ReportKeeper,
    Selection,
    StepListener,
    StepLog,
    UpsertResult,
)
from pipeline.local import facts
from pipeline.local.graph import PipelineGraph
from pipeline.local.handlers.base import EndpointManager
from pipeline.local.packages import deploy_package, model_packages, update_approval
from pipeline.local.points import LocalPointRuns
from pipeline.local.runner import LocalRunner, open_store
from pipeline.local.store.registry import Registry

# Measured on the 2-core machine (benchmarks/bench_sweep.py): two points at once, each job
# at one torch thread, is the most the cores take before points slow each other down.
LOCAL_PARALLEL = 2


class LocalTarget:
    """Runs pipeline definitions on this machine; see the module docstring."""

    name = "local"

    def __init__(
        self,
        store_root: Path,
        region: str = "us-east-1",
        on_line: LineListener | None = None,
        endpoints: EndpointManager | None = None,
        job_start: str = "subprocess",
        warm_idle_s: float = 600.0,
        reports: ReportKeeper | None = None,
    ) -> None:
        """Args:
        store_root: the store (local.store_root); made absolute, as jobs run in other cwds.
        region: the region of the ARNs the store makes (aws.region).
        on_line: gets every line a job prints, as it prints it (--follow).
        endpoints: the endpoint manager (default: pipeline.local.endpoint.manager, imported
            when first needed; tests pass a recorder that starts no server).
        job_start, warm_idle_s: local.job_start and local.warm_host_idle_s; make_target
            passes the config's. Without them jobs start as plain subprocesses (what a test
            or a script driving the engine wants: no job host outlives it).
        reports: keeps each execution's HTML page (pipeline.report.background has the
            keepers); None: no page is drawn.
        """
        self.notes: list[str] = []
        self.pipelines = open_store(store_root, region)
        self.runner = LocalRunner(
            self.pipelines,
            job_start=job_start,
            warm_idle_s=warm_idle_s,
            on_line=on_line,
            endpoints=endpoints,
            reports=reports,
            notes=self.notes,
        )
        self.records, self.objects = self.pipelines.records, self.pipelines.objects
        self.layout = self.records.layout
        self.store_root, self.region = self.runner.store_root, region
        self.store: str | None = str(self.store_root)
        self.job_start, self.warm_idle_s = job_start, warm_idle_s
        self.reports = reports
        self.default_parallel = max(1, min(LOCAL_PARALLEL, os.cpu_count() or 1))

    # -- checks before heavy work: nothing to refuse locally -------------------------------

    def check_upsert_settings(self, role_arn: str | None) -> None:
        """Nothing: the local engine needs no role."""

    def check_follow(self) -> None:
        """Nothing: local jobs' output is streamed as they print it."""

    # -- pipelines -------------------------------------------------------------------------

    def upsert_pipeline(self, pipeline: PipelineDefinition, role_arn: str | None) -> UpsertResult:
        """Check the definition, store its artifacts, then keep it as the newest version."""
        return self.pipelines.upsert(pipeline, role_arn)

    def check_start_of(self, pipeline: PipelineDefinition, parameters: Mapping[str, Any]) -> None:
        """Gate a start of a definition not stored yet (``--upsert --start``): nothing is kept."""
        self.runner.check_start(pipeline, parameters)

    def pipeline_parameters(self, pipeline_name: str) -> list[dict[str, Any]]:
        """The newest stored definition's Parameters."""
        return self.pipelines.parameters(pipeline_name)

    def pipeline_graph(self, pipeline_name: str) -> PipelineGraph:
        """The newest stored definition, parsed (selective execution reads its graph)."""
        return self.pipelines.graph_of(pipeline_name)

    # -- executions ------------------------------------------------------------------------

    def start_execution(
        self,
        pipeline_name: str,
        parameters: Mapping[str, Any],
        display_name: str | None = None,
        selection: Selection | None = None,
    ) -> str:
        """Check the overrides as the service does and record a new execution; its ARN.

        It runs in :meth:`wait`.
        """
        return self.runner.start(pipeline_name, parameters, display_name, selection)

    def wait(self, execution_arn: str, on_step: StepListener) -> ExecutionSummary:
        """Run the execution (once) to its end, reporting each step to ``on_step``."""
        return self.runner.run(execution_arn, on_step)

    def run_or_follow(
        self, execution_arn: str, wait: bool, on_step: StepListener
    ) -> ExecutionSummary:
        """The execution runs here, to its end, ``wait`` or not: there is no service."""
        return self.runner.run(execution_arn, on_step)

    def describe_execution(self, execution_ref: str) -> ExecutionSummary:
        """One execution by id or ARN (settled first: a dead runner's shows as Failed)."""
        return self.runner.describe(execution_ref)

    def stop_execution(self, execution_ref: str) -> ExecutionSummary:
        """Stop a running execution from any process; it ends Stopped, as on SageMaker."""
        return self.runner.stop(execution_ref)

    def retry_execution(self, execution_ref: str) -> str:
        """RetryPipelineExecution: the same execution resumes where it failed (in ``wait``)."""
        return self.runner.retry(execution_ref)

    def list_executions(self, pipeline_name: str) -> list[ExecutionSummary]:
        """The pipeline's executions, newest first (without their steps)."""
        return self.runner.executions(pipeline_name)

    def reusable_executions(
        self, pipeline_name: str, wanted: Sequence[Mapping[str, Any]]
    ) -> list[ExecutionSummary | None]:
        """For each resolved parameter set, the newest whole Succeeded run that did it."""
        return self.runner.reusable(pipeline_name, wanted)

    def execution_metrics(self, execution_ref: str) -> dict[str, float]:
        """The quality report's and the training steps' metrics, as the summary has them."""
        return dict(self.runner.describe(execution_ref).metrics)

    def execution_facts(self, execution_ref: str) -> ExecutionFacts:
        """Everything a report shows of the execution, from the store (settled first)."""
        data = self.runner.settle(execution_ref)
        return facts.execution_facts(self.records, self.objects, data.execution_id)

    def execution_data(self, execution_ref: str) -> ExecutionData:
        """The data step's points and the trained model's file in the store."""
        data = self.runner.settle(execution_ref)
        return facts.execution_data(self.records, self.objects, data.execution_id)

    def step_log(self, execution_ref: str, step_name: str, offset: int = 0) -> StepLog:
        """The step's log file from ``offset`` on (settled first: a dead runner's step ends)."""
        data = self.runner.settle(execution_ref)
        return facts.step_log(self.records, data.execution_id, step_name, offset)

    # -- jobs and sweeps -------------------------------------------------------------------

    def warm_up(self) -> None:
        """Let a job host import now (if jobs start warm); it serves the store once an
        execution runs, and leaves with this process if none does."""
        self.runner.warm_up()

    def stop_warm_host(self) -> int | None:
        """Ask the store's warm job host to leave now; its pid, or None if none was running."""
        return self.runner.stop_warm_host()

    def point_runs(self, fresh: bool = False) -> LocalPointRuns:
        """A worker process per started execution (forked when jobs start warm, unless
        ``fresh``: a new interpreter, for a caller with threads)."""
        return LocalPointRuns(
            self.store_root,
            self.region,
            self.job_start,
            self.warm_idle_s,
            fork=False if fresh else None,
        )

    # -- reports ---------------------------------------------------------------------------

    def report_path(self, execution_id: str) -> Path:
        """The store's page of the execution: ``executions/<id>/report.html``."""
        return self.layout.report(execution_id)

    def comparison_path(self, execution_ids: Sequence[str]) -> Path:
        """The store's comparison page: ``comparisons/<a>-vs-<b>.html``."""
        return self.layout.comparison(execution_ids)

    def keeps_path(self, path: Path) -> bool:
        """True for any path inside the store (links followed)."""
        return Path(path).resolve().is_relative_to(self.store_root.resolve())

    def draw_pages_later(
        self, execution_ids: Sequence[str], comparison: Path | None, pages: Sequence[str]
    ) -> None:
        """Hand the pages to the report keeper (it says in a note where they are drawn)."""
        if self.reports is not None:
            self.reports.draw_later(self.store_root, execution_ids, comparison, pages, self.notes)

    # -- endpoints -------------------------------------------------------------------------

    def list_endpoints(self) -> list[EndpointRef]:
        """Endpoints the endpoint helper knows, with their URL and status."""
        infos = self.runner.endpoints().list_endpoints(self.store_root)
        return [EndpointRef(i.name, i.url, i.status) for i in infos]

    def invoke_endpoint(self, name: str, body: bytes, content_type: str, accept: str) -> bytes:
        """One request to a local endpoint (EndpointError on 4xx/5xx or when not serving)."""
        return self.runner.endpoints().invoke(self.store_root, name, body, content_type, accept)

    def delete_endpoint(self, name: str) -> None:
        """Stop and forget a local endpoint."""
        self.runner.endpoints().delete_endpoint(self.store_root, name)

    # -- model registry --------------------------------------------------------------------

    def list_model_packages(self, group: str | None = None) -> list[ModelPackageRef]:
        """The local registry's packages (of one group, or all), newest first."""
        registry = Registry(self.store_root, self.region)
        endpoints = self.runner.endpoints().list_endpoints(self.store_root)
        return model_packages(self.records, self.objects, registry, endpoints, group)

    def update_model_package(self, package_ref: str, approval_status: str) -> ModelPackageRef:
        """UpdateModelPackage in the local registry (kept beside the version's record)."""
        registry = Registry(self.store_root, self.region)
        arn = update_approval(registry, package_ref, approval_status)["ModelPackageArn"]
        return self._package(arn)

    def deploy_model_package(self, package_ref: str, endpoint_name: str) -> EndpointRef:
        """Serve an Approved package from a local endpoint, created or swapped in place."""
        registry = Registry(self.store_root, self.region)
        info = deploy_package(
            registry,
            self.objects,
            self.runner.endpoints(),
            self.store_root,
            package_ref,
            endpoint_name,
        )
        return EndpointRef(info.name, info.url, info.status)

    def _package(self, arn: str) -> ModelPackageRef:
        return next(p for p in self.list_model_packages() if p.arn == arn)
