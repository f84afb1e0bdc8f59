"""The SageMaker target: SageMaker Pipelines through boto3 alone.

The definition is already built (pipeline/assembly/builder.py), so the SDK's Pipeline.upsert
adds nothing here; plain boto3 keeps --start, --wait and the management commands free of
the SDK's multi-second import. Every botocore failure becomes a one-line MoonpipeError
that says what to do. Clients come from one boto3.Session, which honours AWS_PROFILE and
AWS_ENDPOINT_URL (the moto tests point it at a local server).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
)

from pipeline.config import missing_role
from pipeline.core.errors import (
    ConfigError,
    ExecutionNotFoundError,
    PipelineNotFoundError,
)
from pipeline.core.names import split_s3_uri
from pipeline.core.records import (
    ExecutionData,
    ExecutionFacts,
    ExecutionSummary,
    PipelineDefinition,
    Selection,
    StepListener,
    StepRecord,
    UpsertResult,
)
from pipeline.targets.sagemaker_endpoints import EndpointCalls
from pipeline.targets.sagemaker_errors import (
    client_error,
    is_not_found,
    is_unimplemented,
    one_line,
    translate,
)
from pipeline.targets.sagemaker_iteration import IterationCalls
from pipeline.targets.sagemaker_steps import deployed_endpoint, metadata_arn, present, step_record

TERMINAL = {"Succeeded", "Failed", "Stopped"}
STEPS_UNAVAILABLE = (
    "step details unavailable: this SageMaker API does not implement "
    "ListPipelineExecutionSteps, so only the execution status is shown"
)
_CLIENT_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, read_timeout=70)


class SageMakerTarget(EndpointCalls, IterationCalls):
    """Target backed by SageMaker Pipelines; executions run on the service."""

    name = "sagemaker"
    runs_in_foreground = False

    def __init__(
        self,
        region: str,
        pipeline_name: str,
        session: boto3.Session | None = None,
        poll_interval_s: float = 15.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.region = region
        self.pipeline_name = pipeline_name
        self.poll_interval_s = poll_interval_s
        self.notes: list[str] = []  # one-line remarks for people, printed after the result
        with translate("read the AWS configuration"):
            self._session = session or boto3.Session(region_name=region)
        self._sleep = sleep
        self._steps_unavailable = False

    @cached_property
    def _sm(self) -> Any:
        return self._client("sagemaker")

    @cached_property
    def _s3(self) -> Any:
        return self._client("s3")

    @cached_property
    def _runtime(self) -> Any:
        return self._client("sagemaker-runtime")

    def _client(self, service: str) -> Any:
        with translate(f"create a {service} client"):
            return self._session.client(service, config=_CLIENT_CONFIG)

    # -- pipeline -------------------------------------------------------------------------

    def upsert_pipeline(self, pipeline: PipelineDefinition, role_arn: str | None) -> UpsertResult:
        """Upload changed artifacts, then create the pipeline, or update it if it differs.

        A pipeline whose stored definition, description and role equal ours is left alone
        (no UpdatePipeline, so no new version in Studio), and an artifact S3 already holds
        with the same MD5 is not uploaded again.
        """
        if not role_arn:  # the CLI's config check stops this first; callers may not
            raise missing_role("the config file")
        for uri, body in sorted(pipeline.artifacts.items()):
            self._upload(uri, body)
        request = {
            "PipelineName": pipeline.name,
            "PipelineDefinition": pipeline.definition,
            "RoleArn": role_arn,
            "PipelineDescription": pipeline.description,
            "PipelineDisplayName": pipeline.name,
        }
        existing = self._pipeline_or_none(pipeline.name)
        if existing is not None and _same_pipeline(existing, request):
            return UpsertResult(str(existing["PipelineArn"]), changed=False)
        action = "create" if existing is None else "update"
        with translate(f"{action} pipeline {pipeline.name}"):
            if existing is None:
                response = self._sm.create_pipeline(**request)
            else:
                response = self._sm.update_pipeline(**request)
        return UpsertResult(str(response["PipelineArn"]), changed=True)

    def _upload(self, uri: str, body: bytes) -> None:
        bucket, key = artifact_location(uri)
        md5 = hashlib.md5(body, usedforsecurity=False).hexdigest()
        if self._stored_etag(bucket, key) == f'"{md5}"':
            return
        missing = ConfigError(
            f"S3 bucket {bucket} does not exist or is not yours; create it or set "
            "aws.bucket in the config (or pass --bucket)"
        )
        with translate(f"upload {uri}", not_found=missing):
            self._s3.put_object(Bucket=bucket, Key=key, Body=body)

    def _stored_etag(self, bucket: str, key: str) -> str | None:
        """The object's ETag (an MD5 for a plain single-part upload), None if unknown.

        Any failure only means "upload it": put_object then reports what is wrong.
        """
        try:
            return str(self._s3.head_object(Bucket=bucket, Key=key).get("ETag"))
        except (ClientError, BotoCoreError):
            return None

    def _pipeline_or_none(self, name: str) -> dict[str, Any] | None:
        try:
            return self._describe_pipeline(name)
        except PipelineNotFoundError:
            return None

    def _describe_pipeline(self, name: str) -> dict[str, Any]:
        with translate(f"describe pipeline {name}", not_found=self._no_pipeline(name)):
            return dict(self._sm.describe_pipeline(PipelineName=name))

    def pipeline_parameters(self, pipeline_name: str) -> list[dict[str, Any]]:
        """The stored definition's Parameters list."""
        definition = json.loads(self._describe_pipeline(pipeline_name)["PipelineDefinition"])
        return list(definition.get("Parameters", []))

    def check_start_of(self, pipeline: PipelineDefinition, parameters: Mapping[str, Any]) -> None:
        """Nothing to check here: SageMaker validates StartPipelineExecution itself."""

    def start_execution(
        self,
        pipeline_name: str,
        parameters: Mapping[str, Any],
        display_name: str | None = None,
        selection: Selection | None = None,  # TEMP until sagemaker-target merge
        selected_steps: Sequence[str] | None = None,
        source_execution: str | None = None,
    ) -> str:
        """Start with these (already checked) overrides; values travel as strings.

        ``selected_steps`` becomes a SelectiveExecutionConfig whose source is
        ``source_execution`` or the newest Succeeded or Failed execution.
        """
        if selection is not None:  # TEMP until sagemaker-target merge: the Protocol's Selection
            selected_steps, source_execution = selection.steps, selection.source
        request = [{"Name": k, "Value": _wire(v)} for k, v in parameters.items()]
        extra: dict[str, Any] = {}
        if display_name is not None:
            extra["PipelineExecutionDisplayName"] = display_name
        if selected_steps:
            extra["SelectiveExecutionConfig"] = {
                "SourcePipelineExecutionArn": self._source_arn(pipeline_name, source_execution),
                "SelectedSteps": [{"StepName": name} for name in selected_steps],
            }
        with translate(f"start pipeline {pipeline_name}", self._no_pipeline(pipeline_name)):
            response = self._sm.start_pipeline_execution(
                PipelineName=pipeline_name, PipelineParameters=request, **extra
            )
        return str(response["PipelineExecutionArn"])

    # -- executions ---------------------------------------------------------------------

    def wait(self, execution_arn: str, on_step: StepListener) -> ExecutionSummary:
        """Poll the execution and its steps, reporting each status change, until it ends."""
        reported: dict[str, str] = {}
        while True:
            described = self._describe_execution_raw(execution_arn, execution_arn)
            steps = self._steps(execution_arn)
            for record in steps:
                if reported.get(record.name) != record.status:
                    reported[record.name] = record.status
                    on_step(record)
            if described["PipelineExecutionStatus"] in TERMINAL:
                return self._summary(described, steps)
            self._sleep(self.poll_interval_s)

    def describe_execution(self, execution_ref: str) -> ExecutionSummary:
        """One execution by its id (under this pipeline) or its full ARN."""
        arn = self._execution_arn(execution_ref)
        described = self._describe_execution_raw(arn, execution_ref)
        return self._summary(described, self._steps(arn))

    def stop_execution(self, execution_ref: str) -> ExecutionSummary:
        """StopPipelineExecution; the execution shows Stopping until the service stops it.

        SageMaker answers a stop of an execution that already ended with a
        ValidationException; its message reaches the user as one line (exit 2).
        """
        arn = self._execution_arn(execution_ref)
        missing = ExecutionNotFoundError(
            f"no execution {execution_ref} in {self.region}; list them with --list-executions"
        )
        with translate(f"stop execution {execution_ref}", not_found=missing):
            try:
                self._sm.stop_pipeline_execution(PipelineExecutionArn=arn)
            except ClientError as exc:
                error = exc.response.get("Error", {})
                code, message = str(error.get("Code", "")), str(error.get("Message", ""))
                if code != "ValidationException" or is_not_found(code, message):
                    raise
                raise ConfigError(
                    f"could not stop execution {execution_ref}: {one_line(message)}"
                ) from None
        return self.describe_execution(arn)

    def _execution_arn(self, execution_ref: str) -> str:
        if execution_ref.startswith("arn:"):
            return execution_ref
        pipeline_arn = self._describe_pipeline(self.pipeline_name)["PipelineArn"]
        return f"{pipeline_arn}/execution/{execution_ref}"

    def _describe_execution_raw(self, arn: str, shown_as: str) -> dict[str, Any]:
        missing = ExecutionNotFoundError(
            f"no execution {shown_as} in {self.region}; list them with --list-executions"
        )
        with translate(f"describe execution {shown_as}", not_found=missing):
            return dict(self._sm.describe_pipeline_execution(PipelineExecutionArn=arn))

    def _steps(self, arn: str) -> tuple[StepRecord, ...]:
        """The execution's steps, oldest first; () when the API does not offer them."""
        if self._steps_unavailable:
            return ()
        try:
            pages = self._sm.get_paginator("list_pipeline_execution_steps").paginate(
                PipelineExecutionArn=arn, SortOrder="Ascending"
            )
            return tuple(step_record(s) for page in pages for s in page["PipelineExecutionSteps"])
        except ClientError as exc:
            if not is_unimplemented(exc):
                raise client_error(exc, f"list the steps of {arn}") from None
            self._steps_unavailable = True
            self.notes.append(STEPS_UNAVAILABLE)
            return ()

    def _summary(
        self, described: Mapping[str, Any], steps: tuple[StepRecord, ...]
    ) -> ExecutionSummary:
        arn = described["PipelineExecutionArn"]
        status = described["PipelineExecutionStatus"]
        with translate(f"list the parameters of {arn}"):
            pages = self._sm.get_paginator("list_pipeline_parameters_for_execution").paginate(
                PipelineExecutionArn=arn
            )
            parameters = {p["Name"]: p["Value"] for pg in pages for p in pg["PipelineParameters"]}
        return ExecutionSummary(
            pipeline_name=arn.split(":pipeline/")[-1].split("/")[0],
            execution_arn=arn,
            execution_id=arn.rsplit("/", 1)[-1],
            status=status,
            failure_reason=present(described.get("FailureReason")),
            parameters=parameters,
            steps=steps,
            model_package_arn=metadata_arn(steps, "RegisterModel"),
            endpoint=deployed_endpoint(steps),
            started_at=described.get("CreationTime"),
            ended_at=described.get("LastModifiedTime") if status in TERMINAL else None,
        )

    def list_executions(self, pipeline_name: str) -> list[ExecutionSummary]:
        """The pipeline's executions, newest first, without steps."""
        with translate(f"list executions of {pipeline_name}", self._no_pipeline(pipeline_name)):
            pages = self._sm.get_paginator("list_pipeline_executions").paginate(
                PipelineName=pipeline_name, SortBy="CreationTime", SortOrder="Descending"
            )
            rows = [s for page in pages for s in page["PipelineExecutionSummaries"]]
        return [
            ExecutionSummary(
                pipeline_name=pipeline_name,
                execution_arn=row["PipelineExecutionArn"],
                execution_id=row["PipelineExecutionArn"].rsplit("/", 1)[-1],
                status=row["PipelineExecutionStatus"],
                failure_reason=present(row.get("PipelineExecutionFailureReason")),
                started_at=row.get("StartTime"),
            )
            for row in rows
        ]

    def _no_pipeline(self, name: str) -> PipelineNotFoundError:
        return PipelineNotFoundError(
            f"pipeline {name} not found in {self.region}; create it with --upsert"
        )

    # -- TEMP until sagemaker-target merge: the Protocol verbs the front calls, over today's code

    default_parallel = 4  # TEMP until sagemaker-target merge

    def check_upsert_settings(self, role_arn: str | None) -> None:
        """TEMP until sagemaker-target merge: the missing role, before the SDK builds."""
        if not role_arn:
            raise missing_role("the config file")

    def check_follow(self) -> None:
        """TEMP until sagemaker-target merge: cli.py's words."""
        raise ConfigError(
            "--follow shows local jobs' output as they run; on SageMaker a job's log is in "
            "CloudWatch (see --describe-execution); drop --follow"
        )

    def pipeline_graph(self, pipeline_name: str) -> Any:
        """TEMP until sagemaker-target merge: today's ``plan``."""
        return self.plan(pipeline_name)

    def run_or_follow(
        self, execution_arn: str, wait: bool, on_step: StepListener
    ) -> ExecutionSummary:
        """TEMP until sagemaker-target merge: followed only when asked."""
        if wait:
            return self.wait(execution_arn, on_step)
        return self.describe_execution(execution_arn)

    def _temp_aws_facts(self, execution_ref: str) -> Any:
        """TEMP until sagemaker-target merge: report/aws_source's facts, read once."""
        from pipeline.report.aws_source import aws_facts

        arn = self._execution_arn(execution_ref)
        cache = self.__dict__.setdefault("_temp_facts", {})
        if arn not in cache:
            cache[arn] = aws_facts(self._sm, self._s3, arn)
        return cache[arn]

    def execution_facts(self, execution_ref: str) -> ExecutionFacts:
        """TEMP until sagemaker-target merge."""
        facts: ExecutionFacts = self._temp_aws_facts(execution_ref)[0]
        return facts

    def execution_data(self, execution_ref: str) -> ExecutionData:
        """TEMP until sagemaker-target merge: no model on this machine."""
        plot = self._temp_aws_facts(execution_ref)[1]
        return ExecutionData(plot.train, plot.test, note=plot.boundary_note)

    def report_path(self, execution_id: str) -> Path:
        """TEMP until sagemaker-target merge: as report/actions.py had it."""
        return Path.cwd() / f"moonpipe-report-{execution_id}.html"

    def comparison_path(self, execution_ids: Sequence[str]) -> Path:
        """TEMP until sagemaker-target merge."""
        return Path.cwd() / f"moonpipe-comparison-{'-vs-'.join(execution_ids)}.html"[-200:]

    def draw_pages_later(
        self, execution_ids: Sequence[str], comparison: Path | None, pages: Sequence[str]
    ) -> None:
        """TEMP until sagemaker-target merge: nothing drawn, a note says so."""
        self.notes.append(
            "no comparison report or pages drawn: SageMaker keeps no pages; --report ID or "
            "--compare ID ID ... writes one now"
        )

    def warm_up(self) -> None:
        """TEMP until sagemaker-target merge: no warm host on SageMaker."""

    def stop_warm_host(self) -> int | None:
        """TEMP until sagemaker-target merge: cli.py's words."""
        raise ConfigError("--stop-host is for the local target (SageMaker runs no warm host)")

    def point_runs(self) -> _TempServiceRuns:
        """TEMP until sagemaker-target merge: the service runs the points."""
        return _TempServiceRuns()


class _TempServiceRuns:
    """TEMP until sagemaker-target merge: nothing to launch; no process of ours."""

    def launch(self, execution_arn: str) -> _TempServiceRuns:
        return self

    def exited(self) -> bool | None:
        return None

    def wait(self) -> None:
        return None


def artifact_location(uri: str) -> tuple[str, str]:
    """An artifact's ``s3://bucket/key`` -> (bucket, key); an artifact needs a key."""
    try:
        bucket, key = split_s3_uri(uri)
    except ValueError:
        bucket, key = "", ""
    if not key:
        raise ConfigError(f"artifact URI {uri!r} is not of the form s3://bucket/key")
    return bucket, key


def _same_pipeline(described: Mapping[str, Any], request: Mapping[str, Any]) -> bool:
    """True if UpdatePipeline with ``request`` would change nothing DescribePipeline shows."""
    keys = ("PipelineDefinition", "PipelineDescription", "RoleArn")
    return all(described.get(k) == request[k] for k in keys)


def _wire(value: Any) -> str:
    """A parameter value as StartPipelineExecution takes it (Booleans as true/false)."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)
