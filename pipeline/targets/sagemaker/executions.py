"""A pipeline's executions on SageMaker: start (whole or selective), follow, describe, stop,
retry and list them, as the Target protocol's ExecutionSummary records.

Executions run on the service: following one is polling DescribePipelineExecution and its
steps until the status is final.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from pipeline.core.errors import ConfigError, ExecutionNotFoundError
from pipeline.core.records import ExecutionSummary, Selection, StepListener, StepRecord
from pipeline.core.refs import execution_id, pipeline_name_of
from pipeline.core.status import SELECTION_SOURCES, is_ended
from pipeline.targets.sagemaker.clients import AwsClients
from pipeline.targets.sagemaker.errors import is_not_found, one_line, translate
from pipeline.targets.sagemaker.pipelines import Pipelines
from pipeline.targets.sagemaker.steps import StepReader, deployed_endpoint, metadata_arn, present


class Executions:
    """StartPipelineExecution and the calls that follow, describe and manage an execution.

    ``pipeline_name`` is the configured pipeline, under which a bare execution id is looked
    up; an ARN names its pipeline itself.
    """

    def __init__(
        self,
        clients: AwsClients,
        pipelines: Pipelines,
        steps: StepReader,
        pipeline_name: str,
        poll_interval_s: float = 15.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clients = clients
        self._pipelines = pipelines
        self._steps = steps
        self._pipeline_name = pipeline_name
        self.poll_interval_s = poll_interval_s
        self._sleep = sleep

    # -- start ------------------------------------------------------------------------------

    def start(
        self,
        pipeline_name: str,
        parameters: Mapping[str, Any],
        display_name: str | None = None,
        selection: Selection | None = None,
    ) -> str:
        """Start with these (already checked) overrides; values travel as strings.

        A ``selection`` becomes a SelectiveExecutionConfig whose source is the selection's
        or the newest Succeeded or Failed execution; the execution starts with the source's
        parameter values (as SageMaker's guide recommends), ``parameters`` overriding them.
        """
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        if display_name is not None:
            extra["PipelineExecutionDisplayName"] = display_name
        if selection is not None and selection.steps:
            source = self._source_arn(pipeline_name, selection.source)
            declared = {p["Name"] for p in self._pipelines.parameters(pipeline_name)}
            values = {k: v for k, v in self.sent_parameters(source).items() if k in declared}
            extra["SelectiveExecutionConfig"] = {
                "SourcePipelineExecutionArn": source,
                "SelectedSteps": [{"StepName": name} for name in selection.steps],
            }
        values.update(parameters)
        request = [{"Name": k, "Value": _wire(v)} for k, v in values.items()]
        missing = self._pipelines.not_found(pipeline_name)
        with translate(f"start pipeline {pipeline_name}", missing):
            response = self._clients.sm.start_pipeline_execution(
                PipelineName=pipeline_name, PipelineParameters=request, **extra
            )
        return str(response["PipelineExecutionArn"])

    def _source_arn(self, pipeline_name: str, source: str | None) -> str:
        if source is not None:
            return self.arn_of(source)
        for summary in self.list(pipeline_name):
            if summary.status in SELECTION_SOURCES:
                return summary.execution_arn
        raise ConfigError(
            f"pipeline {pipeline_name} has no Succeeded or Failed execution to take the "
            "unselected steps from; run a full --start first"
        )

    def retry(self, execution_ref: str) -> str:
        """RetryPipelineExecution: the same execution resumes from the steps that failed."""
        arn = self.arn_of(execution_ref)
        with translate(f"retry execution {execution_ref}"):
            self._clients.sm.retry_pipeline_execution(PipelineExecutionArn=arn)
        return arn

    # -- follow and describe ----------------------------------------------------------------

    def wait(self, execution_arn: str, on_step: StepListener) -> ExecutionSummary:
        """Poll the execution and its steps, reporting each status change, until it ends."""
        reported: dict[str, str] = {}
        while True:
            described = self.described(execution_arn, execution_arn)
            steps = self._steps.records(execution_arn)
            for record in steps:
                if reported.get(record.name) != record.status:
                    reported[record.name] = record.status
                    on_step(record)
            if is_ended(described["PipelineExecutionStatus"]):
                return self._summary(described, steps)
            self._sleep(self.poll_interval_s)

    def run_or_follow(
        self, execution_arn: str, wait: bool, on_step: StepListener
    ) -> ExecutionSummary:
        """The service runs it: follow it to its end only if asked, else describe it once."""
        if wait:
            return self.wait(execution_arn, on_step)
        return self.describe(execution_arn)

    def describe(self, execution_ref: str) -> ExecutionSummary:
        """One execution by its id (under the configured pipeline) or its full ARN."""
        arn = self.arn_of(execution_ref)
        described = self.described(arn, execution_ref)
        return self._summary(described, self._steps.records(arn))

    def described(self, arn: str, shown_as: str) -> dict[str, Any]:
        """DescribePipelineExecution's answer (ExecutionNotFoundError naming ``shown_as``)."""
        with translate(f"describe execution {shown_as}", not_found=self.not_found(shown_as)):
            return dict(self._clients.sm.describe_pipeline_execution(PipelineExecutionArn=arn))

    def sent_parameters(self, arn: str) -> dict[str, str]:
        """ListPipelineParametersForExecution: the values the start sent (all strings)."""
        with translate(f"list the parameters of {arn}"):
            pages = self._clients.sm.get_paginator(
                "list_pipeline_parameters_for_execution"
            ).paginate(PipelineExecutionArn=arn)
            return {p["Name"]: p["Value"] for page in pages for p in page["PipelineParameters"]}

    def _summary(
        self, described: Mapping[str, Any], steps: tuple[StepRecord, ...]
    ) -> ExecutionSummary:
        arn = described["PipelineExecutionArn"]
        status = described["PipelineExecutionStatus"]
        parameters = self.sent_parameters(arn)
        return ExecutionSummary(
            pipeline_name=pipeline_name_of(arn),
            execution_arn=arn,
            execution_id=execution_id(arn),
            status=status,
            failure_reason=present(described.get("FailureReason")),
            parameters=parameters,
            steps=steps,
            model_package_arn=metadata_arn(steps, "RegisterModel"),
            endpoint=deployed_endpoint(steps),
            started_at=described.get("CreationTime"),
            ended_at=described.get("LastModifiedTime") if is_ended(status) else None,
        )

    # -- stop and list ----------------------------------------------------------------------

    def stop(self, execution_ref: str) -> ExecutionSummary:
        """StopPipelineExecution; the execution shows Stopping until the service stops it.

        SageMaker answers a stop of an execution that already ended with a
        ValidationException; its message reaches the user as one line (exit 2).
        """
        arn = self.arn_of(execution_ref)
        missing = self.not_found(execution_ref)
        with translate(f"stop execution {execution_ref}", not_found=missing):
            try:
                self._clients.sm.stop_pipeline_execution(PipelineExecutionArn=arn)
            except ClientError as exc:
                error = exc.response.get("Error", {})
                code, message = str(error.get("Code", "")), str(error.get("Message", ""))
                if code != "ValidationException" or is_not_found(code, message):
                    raise
                raise ConfigError(
                    f"could not stop execution {execution_ref}: {one_line(message)}"
                ) from None
        return self.describe(arn)

    def list(self, pipeline_name: str) -> list[ExecutionSummary]:
        """The pipeline's executions, newest first, without steps."""
        missing = self._pipelines.not_found(pipeline_name)
        with translate(f"list executions of {pipeline_name}", missing):
            pages = self._clients.sm.get_paginator("list_pipeline_executions").paginate(
                PipelineName=pipeline_name, SortBy="CreationTime", SortOrder="Descending"
            )
            rows = [s for page in pages for s in page["PipelineExecutionSummaries"]]
        return [
            ExecutionSummary(
                pipeline_name=pipeline_name,
                execution_arn=row["PipelineExecutionArn"],
                execution_id=execution_id(row["PipelineExecutionArn"]),
                status=row["PipelineExecutionStatus"],
                failure_reason=present(row.get("PipelineExecutionFailureReason")),
                started_at=row.get("StartTime"),
            )
            for row in rows
        ]

    # -- references -------------------------------------------------------------------------

    def arn_of(self, execution_ref: str) -> str:
        """An ARN as given; an id under the configured pipeline's ARN."""
        if execution_ref.startswith("arn:"):
            return execution_ref
        pipeline_arn = self._pipelines.describe(self._pipeline_name)["PipelineArn"]
        return f"{pipeline_arn}/execution/{execution_ref}"

    def not_found(self, shown_as: str) -> ExecutionNotFoundError:
        """What a missing execution means to a person."""
        return ExecutionNotFoundError(
            f"no execution {shown_as} in {self._clients.region}; list them with --list-executions"
        )


def _wire(value: Any) -> str:
    """A parameter value as StartPipelineExecution takes it (Booleans as true/false)."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)
