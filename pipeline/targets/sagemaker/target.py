"""The SageMaker target: SageMaker Pipelines through boto3 alone, assembled from its rooms.

Plain boto3 keeps --start, --wait and the management commands free of the SDK's
multi-second import. :class:`SageMakerTarget` owns no AWS call itself: it holds one
:class:`AwsClients` and hands it to a collaborator per role, each of which turns every
botocore failure into a one-line MoonpipeError that says what to do::

    SageMakerTarget
      clients      AwsClients    one boto3.Session; sagemaker, s3, runtime clients
      pipelines    Pipelines     upsert, the stored definition, its parameters and graph
      executions   Executions    start, wait, describe, stop, retry, list
      reuse        Reuse         which sweep points already ran
      facts        Facts         a report's facts and data, the metrics a sweep ranks by
      endpoints    Endpoints     list, invoke, delete
      registry     ModelRegistry the registered model package versions
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import boto3

from pipeline.core.errors import ConfigError
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
from pipeline.targets.sagemaker.clients import AwsClients
from pipeline.targets.sagemaker.endpoints import Endpoints
from pipeline.targets.sagemaker.executions import Executions
from pipeline.targets.sagemaker.facts import Facts
from pipeline.targets.sagemaker.pages import NO_PAGES_LATER, comparison_path, report_path
from pipeline.targets.sagemaker.pipelines import Pipelines, artifact_location
from pipeline.targets.sagemaker.points import ServiceRuns
from pipeline.targets.sagemaker.registry import ModelRegistry
from pipeline.targets.sagemaker.reuse import Reuse
from pipeline.targets.sagemaker.steps import STEPS_UNAVAILABLE, StepReader

__all__ = ["STEPS_UNAVAILABLE", "SageMakerTarget", "artifact_location"]

NO_FOLLOW = (
    "--follow shows local jobs' output as they run; on SageMaker a job's log is in "
    "CloudWatch (see --describe-execution); drop --follow"
)
CLOUDWATCH_NOTE = (
    "step {step}: its job's log is in CloudWatch Logs (/aws/sagemaker/TrainingJobs or "
    "/aws/sagemaker/ProcessingJobs, stream named after the job); moonpipe does not read it"
)
NO_WARM_HOST = "--stop-host is for the local target (SageMaker runs no warm host)"
SERVICE_PARALLEL = 4  # sweep points running at once on the service unless --max-parallel


class SageMakerTarget:
    """Target backed by SageMaker Pipelines; executions run on the service."""

    name = "sagemaker"
    store: str | None = None  # the service keeps every record: no local store
    default_parallel = SERVICE_PARALLEL

    def __init__(
        self,
        region: str,
        pipeline_name: str,
        session: boto3.Session | None = None,
        poll_interval_s: float = 15.0,
        sleep: Callable[[float], None] = time.sleep,
        config_file: str = "the config file",
    ) -> None:
        """``config_file`` is the config file as messages name it (where aws.role_arn is
        set); ``session``, ``poll_interval_s`` and ``sleep`` are for tests."""
        self.region = region
        self.pipeline_name = pipeline_name
        self.notes: list[str] = []  # one-line remarks for people, printed after the result
        self.clients = AwsClients(region, session)
        steps = StepReader(self.clients, self.notes)
        self.pipelines = Pipelines(self.clients, config_file)
        self.executions = Executions(
            self.clients, self.pipelines, steps, pipeline_name, poll_interval_s, sleep
        )
        self.reuse = Reuse(self.clients, self.pipelines, self.executions)
        self.facts = Facts(self.clients, steps, self.executions.not_found)
        self.endpoints = Endpoints(self.clients)
        self.registry = ModelRegistry(self.clients)

    # -- checks a command makes before its heavy work --------------------------------------

    def check_upsert_settings(self, role_arn: str | None) -> None:
        """An upsert needs the role SageMaker runs the pipeline's jobs as: refuse now."""
        self.pipelines.check_role(role_arn)

    def check_follow(self) -> None:
        """A job's output cannot be streamed from here: its log is in CloudWatch."""
        raise ConfigError(NO_FOLLOW)

    # -- pipelines --------------------------------------------------------------------------

    def upsert_pipeline(self, pipeline: PipelineDefinition, role_arn: str | None) -> UpsertResult:
        """Upload changed artifacts, then create or update the pipeline unless unchanged."""
        return self.pipelines.upsert(pipeline, role_arn)

    def check_start_of(self, pipeline: PipelineDefinition, parameters: Mapping[str, Any]) -> None:
        """Nothing to check here: SageMaker validates StartPipelineExecution itself."""

    def pipeline_parameters(self, pipeline_name: str) -> list[dict[str, Any]]:
        """The stored definition's Parameters list."""
        return self.pipelines.parameters(pipeline_name)

    def pipeline_graph(self, pipeline_name: str) -> PipelineGraph:
        """The stored definition, parsed."""
        return self.pipelines.graph(pipeline_name)

    # -- executions -------------------------------------------------------------------------

    def start_execution(
        self,
        pipeline_name: str,
        parameters: Mapping[str, Any],
        display_name: str | None = None,
        selection: Selection | None = None,
    ) -> str:
        """Start an execution with these (already checked) overrides; its ARN."""
        return self.executions.start(pipeline_name, parameters, display_name, selection)

    def wait(self, execution_arn: str, on_step: StepListener) -> ExecutionSummary:
        """Poll the execution and its steps, reporting each status change, until it ends."""
        return self.executions.wait(execution_arn, on_step)

    def run_or_follow(
        self, execution_arn: str, wait: bool, on_step: StepListener
    ) -> ExecutionSummary:
        """The service runs it: followed to its end only with ``wait``, else described once."""
        return self.executions.run_or_follow(execution_arn, wait, on_step)

    def describe_execution(self, execution_ref: str) -> ExecutionSummary:
        """One execution by its id (under this pipeline) or its full ARN."""
        return self.executions.describe(execution_ref)

    def stop_execution(self, execution_ref: str) -> ExecutionSummary:
        """StopPipelineExecution; the execution shows Stopping until the service stops it."""
        return self.executions.stop(execution_ref)

    def retry_execution(self, execution_ref: str) -> str:
        """RetryPipelineExecution: the same execution resumes from the steps that failed."""
        return self.executions.retry(execution_ref)

    def list_executions(self, pipeline_name: str) -> list[ExecutionSummary]:
        """The pipeline's executions, newest first, without steps."""
        return self.executions.list(pipeline_name)

    def reusable_executions(
        self, pipeline_name: str, wanted: Sequence[Mapping[str, Any]]
    ) -> list[ExecutionSummary | None]:
        """For each resolved parameter set, the newest execution that already did exactly it."""
        return self.reuse.reusable_executions(pipeline_name, wanted)

    def execution_metrics(self, execution_ref: str) -> dict[str, float]:
        """The metrics a local summary holds, read as a report reads them here: the
        evaluation report (the package's ModelMetrics, else the evaluation output on S3) and
        the training job's FinalMetricDataList. DescribePipelineExecution carries none, so a
        sweep asks once per succeeded point, to rank them."""
        return self.facts.execution_metrics(self.executions.arn_of(execution_ref), execution_ref)

    def execution_facts(self, execution_ref: str) -> ExecutionFacts:
        """Everything a report shows of one execution, from the Describe/List APIs and S3."""
        return self.facts.execution_facts(self.executions.arn_of(execution_ref), execution_ref)

    def execution_data(self, execution_ref: str) -> ExecutionData:
        """The data points (from S3) and the model artifact's URI; the model itself is not
        on this machine, so there is no model file and the note says what that costs."""
        return self.facts.execution_data(self.executions.arn_of(execution_ref), execution_ref)

    def step_log(self, execution_ref: str, step_name: str, offset: int = 0) -> StepLog:
        """SageMaker keeps a job's output in CloudWatch Logs, which this target does not read:
        no text, and a note saying where the log is."""
        return StepLog(step_name, "", None, True, CLOUDWATCH_NOTE.format(step=step_name))

    # -- jobs and sweeps --------------------------------------------------------------------

    def warm_up(self) -> None:
        """Nothing to get ready: the service starts the jobs."""

    def stop_warm_host(self) -> int | None:
        """SageMaker runs no warm host: --stop-host does not apply here."""
        raise ConfigError(NO_WARM_HOST)

    def point_runs(self, fresh: bool = False) -> ServiceRuns:
        """The service runs the executions it started: nothing to launch."""
        return ServiceRuns()

    # -- reports ----------------------------------------------------------------------------

    def report_path(self, execution_id: str) -> Path:
        """``moonpipe-report-<id>.html`` in the working directory."""
        return report_path(execution_id)

    def comparison_path(self, execution_ids: Sequence[str]) -> Path:
        """``moonpipe-comparison-<ids>.html`` in the working directory."""
        return comparison_path(execution_ids)

    def keeps_path(self, path: Path) -> bool:
        """False: SageMaker keeps nothing on this machine."""
        return False

    def draw_pages_later(
        self, execution_ids: Sequence[str], comparison: Path | None, pages: Sequence[str]
    ) -> None:
        """No page is kept for SageMaker executions, so none is drawn: a note says how to
        write them (only when there was something to draw)."""
        if (pages or comparison is not None) and NO_PAGES_LATER not in self.notes:
            self.notes.append(NO_PAGES_LATER)

    # -- endpoints --------------------------------------------------------------------------

    def list_endpoints(self) -> list[EndpointRef]:
        """Every endpoint in the region with its status."""
        return self.endpoints.list()

    def invoke_endpoint(self, name: str, body: bytes, content_type: str, accept: str) -> bytes:
        """One request through sagemaker-runtime; a model's 4xx becomes an EndpointError."""
        return self.endpoints.invoke(name, body, content_type, accept)

    def delete_endpoint(self, name: str) -> None:
        """Delete the endpoint (its config and model stay, as SageMaker keeps them)."""
        self.endpoints.delete(name)

    # -- model registry ---------------------------------------------------------------------

    def list_model_packages(self, group: str | None = None) -> list[ModelPackageRef]:
        """Registered model package versions (of one group, or all), newest first."""
        return self.registry.list_model_packages(group)

    def update_model_package(self, package_ref: str, approval_status: str) -> ModelPackageRef:
        """UpdateModelPackage: the package version's approval status."""
        return self.registry.update(package_ref, approval_status)

    def deploy_model_package(self, package_ref: str, endpoint_name: str) -> EndpointRef:
        """CreateModel, CreateEndpointConfig, then CreateEndpoint or UpdateEndpoint; the
        model runs as the pipeline's own role (the one its deploy steps use)."""
        role = str(self.pipelines.describe(self.pipeline_name).get("RoleArn") or "")
        if not role:
            raise ConfigError(
                f"pipeline {self.pipeline_name} names no role to run the model as; "
                "run --upsert with --role-arn first"
            )
        return self.registry.deploy(package_ref, endpoint_name, role)
