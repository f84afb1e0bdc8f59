"""A SageMaker execution's facts, from the APIs Studio itself reads: what a report, the UI
and a sweep's ranking show of it.

DescribePipelineExecution, DescribePipelineDefinitionForExecution,
ListPipelineParametersForExecution and ListPipelineExecutionSteps give the execution; each
step's properties come from the Describe* call of what it made (DescribeTrainingJob with
its FinalMetricDataList, DescribeProcessingJob, DescribeModelPackage, DescribeEndpoint);
the quality report and the data points are read from S3. What these APIs cannot give is
said in a note, never made up: the decision boundary needs the model itself, which is not
on this machine, and the per-epoch training series lives in CloudWatch metrics.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pipeline.core.errors import MoonpipeError
from pipeline.core.quality import quality_metrics, training_metrics
from pipeline.core.records import ExecutionData, ExecutionFacts, StepRecord
from pipeline.core.refs import execution_id, pipeline_name_of
from pipeline.core.status import Status, is_ended
from pipeline.targets.sagemaker.clients import Clients
from pipeline.targets.sagemaker.errors import translate
from pipeline.targets.sagemaker.quality import quality_document, read_object
from pipeline.targets.sagemaker.steps import STEPS_UNAVAILABLE, StepReader, step_record

BOUNDARY_NOTE = (
    "the decision boundary is not drawn for SageMaker executions: it needs the "
    "trained model itself, which the Describe/List APIs do not return"
)
SERIES_NOTE = (
    "training metrics per epoch live in CloudWatch metrics "
    "(/aws/sagemaker/TrainingJobs), which this report does not read; the final "
    "values come from DescribeTrainingJob"
)
_DESCRIBE = {
    "TrainingJob": ("describe_training_job", "TrainingJobName", True),
    "ProcessingJob": ("describe_processing_job", "ProcessingJobName", True),
    "RegisterModel": ("describe_model_package", "ModelPackageName", False),
    "Endpoint": ("describe_endpoint", "EndpointName", True),
}


@dataclass(frozen=True)
class _Gathered:
    """One execution's facts and the Describe* answers of what its steps made."""

    facts: ExecutionFacts
    properties: tuple[Mapping[str, Any], ...]


class Facts:
    """execution_facts, execution_data and execution_metrics of the Target protocol.

    The last ended execution gathered is kept while DescribePipelineExecution shows it
    unchanged, so a report asking for its facts and then its data reads the other APIs
    once. ``not_found``
    names a missing execution for people (the target's wording); without it the service's
    own message is shown.
    """

    def __init__(
        self,
        clients: Clients,
        steps: StepReader,
        not_found: Callable[[str], MoonpipeError] | None = None,
    ) -> None:
        self._clients = clients
        self._steps = steps
        self._not_found = not_found
        self._last: tuple[tuple[str, str, Any], _Gathered] | None = None

    def execution_facts(self, arn: str, shown_as: str | None = None) -> ExecutionFacts:
        """Everything a report shows of the execution, read from the service's records."""
        return self._gather(arn, shown_as or arn).facts

    def execution_metrics(self, arn: str, shown_as: str | None = None) -> dict[str, float]:
        """The quality report's metrics and the training job's final metrics."""
        gathered = self._gather(arn, shown_as or arn)
        return {
            **quality_metrics(gathered.facts.quality_report),
            **training_metrics(gathered.properties),
        }

    def execution_data(self, arn: str, shown_as: str | None = None) -> ExecutionData:
        """The data step's points from S3 and the model artifact's URI; no model file here."""
        properties = self._gather(arn, shown_as or arn).properties
        artifact = next(
            (
                str(p["ModelArtifacts"]["S3ModelArtifacts"])
                for p in properties
                if (p.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
            ),
            None,
        )
        return ExecutionData(
            train=self._points(properties, "train"),
            test=self._points(properties, "test"),
            model_artifact=artifact,
            note=BOUNDARY_NOTE,
        )

    # -- gathering --------------------------------------------------------------------------

    def _gather(self, arn: str, shown_as: str) -> _Gathered:
        sm = self._clients.sm
        missing = None if self._not_found is None else self._not_found(shown_as)
        with translate(f"describe execution {shown_as}", not_found=missing):
            described = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        key = (arn, described["PipelineExecutionStatus"], described.get("LastModifiedTime"))
        if self._last is not None and self._last[0] == key:
            return self._last[1]  # ended and unchanged since (a retry would change both)
        gathered = self._read(arn, shown_as, described)
        if is_ended(gathered.facts.status):
            self._last = (key, gathered)
        return gathered

    def _read(self, arn: str, shown_as: str, described: Mapping[str, Any]) -> _Gathered:
        sm = self._clients.sm
        with translate(f"describe execution {shown_as}"):
            definition = sm.describe_pipeline_definition_for_execution(PipelineExecutionArn=arn)[
                "PipelineDefinition"
            ]
            pages = sm.get_paginator("list_pipeline_parameters_for_execution").paginate(
                PipelineExecutionArn=arn
            )
            given = {p["Name"]: p["Value"] for pg in pages for p in pg["PipelineParameters"]}
        notes: list[str] = []
        steps = [(record, self._properties(record)) for record in self._records(arn, notes)]
        properties = tuple(p for _, p in steps if p)
        uri, quality = self._quality_report(properties)
        notes += [BOUNDARY_NOTE] + (
            [SERIES_NOTE] if any("FinalMetricDataList" in p for p in properties) else []
        )
        status = described["PipelineExecutionStatus"]
        facts = ExecutionFacts(
            target="sagemaker",
            pipeline_name=pipeline_name_of(arn),
            execution_id=execution_id(arn),
            execution_arn=arn,
            status=status,
            definition=definition,
            parameters=typed_parameters(json.loads(definition).get("Parameters") or [], given),
            steps=steps,
            failure_reason=described.get("FailureReason") or None,
            started_at=described.get("CreationTime"),
            ended_at=described.get("LastModifiedTime") if status != Status.EXECUTING else None,
            quality_report=quality,
            quality_report_uri=uri,
            notes=tuple(notes),
        )
        return _Gathered(facts, properties)

    def _records(self, arn: str, notes: list[str]) -> list[StepRecord]:
        raw = self._steps.raw(arn)
        if raw is None:
            notes.append(STEPS_UNAVAILABLE)
            return []
        return [_with_outcome(step_record(s), s) for s in raw]

    def _properties(self, record: StepRecord) -> dict[str, Any] | None:
        """The Describe* response of the resource a step made (None for job-less steps)."""
        for kind, (method, key, by_name) in _DESCRIBE.items():
            arn = (record.metadata.get(kind) or {}).get("Arn")
            if arn:
                with translate(f"describe {kind} of step {record.name}"):
                    call = getattr(self._clients.sm, method)
                    found = call(**{key: arn.rsplit("/", 1)[-1] if by_name else arn})
                return {k: v for k, v in found.items() if k != "ResponseMetadata"}
        outcome = record.metadata.get("Outcome")
        return None if outcome is None else {"Outcome": outcome}

    def _quality_report(
        self, properties: Sequence[Mapping[str, Any]]
    ) -> tuple[str | None, dict[str, Any] | None]:
        """The package's ModelMetrics report, else a processing output's evaluation.json."""
        candidates = []
        for props in properties:
            stats = ((props.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics")
            if isinstance(stats, Mapping) and stats.get("S3Uri"):
                candidates.append(str(stats["S3Uri"]))
        for props in properties:
            for output in (props.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
                uri = (output.get("S3Output") or {}).get("S3Uri")
                if uri and output.get("OutputName") == "evaluation":
                    candidates.append(f"{str(uri).rstrip('/')}/evaluation.json")
        for uri in candidates:
            document = quality_document(self._clients.s3, uri)
            if document is not None:
                return uri, document
        return None, None

    def _points(self, properties: Sequence[Mapping[str, Any]], name: str) -> Any:
        """Rows ``label,x,y`` of the CSVs under the processing output named ``name``."""
        import numpy as np  # only a report's plots need it: the CLI's commands start without

        s3 = self._clients.s3
        for props in properties:
            for output in (props.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
                uri = (output.get("S3Output") or {}).get("S3Uri")
                if output.get("OutputName") != name or not uri:
                    continue
                bucket, _, prefix = str(uri).removeprefix("s3://").partition("/")
                listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix.rstrip("/") + "/")
                keys = [o["Key"] for o in listed.get("Contents", []) if o["Key"].endswith(".csv")]
                rows = [
                    np.loadtxt(
                        io.BytesIO(read_object(s3, f"s3://{bucket}/{k}") or b""),
                        delimiter=",",
                        ndmin=2,
                    )
                    for k in keys
                ]
                rows = [r for r in rows if r.ndim == 2 and r.shape[1] >= 3]
                if rows:
                    return np.concatenate(rows)
        return None


def typed_parameters(
    declared: Sequence[Mapping[str, Any]], given: Mapping[str, str]
) -> dict[str, Any]:
    """The API returns every value as a string: type them as the definition declares."""
    kinds = {p["Name"]: p.get("Type", "String") for p in declared}
    typed: dict[str, Any] = {}
    for name, text in given.items():
        kind = kinds.get(name, "String")
        try:
            typed[name] = (
                int(text)
                if kind == "Integer"
                else float(text)
                if kind == "Float"
                else text.lower() == "true"
                if kind == "Boolean"
                else text
            )
        except ValueError:
            typed[name] = text
    return typed


def _with_outcome(record: StepRecord, raw: Mapping[str, Any]) -> StepRecord:
    """The condition's branch and a cache hit's source, in the local records' keys."""
    extra: dict[str, Any] = {}
    outcome = (record.metadata.get("Condition") or {}).get("Outcome")
    if outcome is not None:
        extra["Outcome"] = str(outcome).lower() == "true"
    source = (raw.get("CacheHitResult") or {}).get("SourcePipelineExecutionArn")
    if source:
        extra["SourceExecutionId"] = execution_id(str(source))
    return replace(record, metadata={**record.metadata, **extra}) if extra else record
