"""A SageMaker execution's report facts, from the APIs Studio itself reads.

DescribePipelineExecution, DescribePipelineDefinitionForExecution,
ListPipelineParametersForExecution and ListPipelineExecutionSteps give the execution; each
step's properties come from the Describe* call of what it made (DescribeTrainingJob with
its FinalMetricDataList, DescribeProcessingJob, DescribeModelPackage, DescribeEndpoint);
the quality report and the data points are read from S3. What these APIs cannot give is
said in a note, never made up: the decision boundary needs the model itself, and the
per-epoch training series lives in CloudWatch metrics.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from botocore.exceptions import ClientError

from pipeline.core.records import ExecutionFacts, StepRecord
from pipeline.report.plots import PlotData
from pipeline.report.report_model import QUALITY_KEY
from pipeline.targets.sagemaker import STEPS_UNAVAILABLE
from pipeline.targets.sagemaker.errors import client_error, is_unimplemented, translate
from pipeline.targets.sagemaker.steps import step_record

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


def aws_facts(sm: Any, s3: Any, arn: str) -> tuple[ExecutionFacts, PlotData]:
    """The report facts and plot data of one SageMaker execution."""
    with translate(f"describe execution {arn}"):
        described = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        definition = sm.describe_pipeline_definition_for_execution(PipelineExecutionArn=arn)[
            "PipelineDefinition"
        ]
        pages = sm.get_paginator("list_pipeline_parameters_for_execution").paginate(
            PipelineExecutionArn=arn
        )
        given = {p["Name"]: p["Value"] for pg in pages for p in pg["PipelineParameters"]}
    notes: list[str] = []
    steps = [(record, _properties(sm, record)) for record in _steps(sm, arn, notes)]
    props = [p for _, p in steps if p]
    uri, quality = _quality_report(s3, props)
    notes += [BOUNDARY_NOTE] + (
        [SERIES_NOTE] if any("FinalMetricDataList" in p for p in props) else []
    )
    status = described["PipelineExecutionStatus"]
    facts = ExecutionFacts(
        target="sagemaker",
        pipeline_name=arn.split(":pipeline/")[-1].split("/")[0],
        execution_id=arn.rsplit("/", 1)[-1],
        execution_arn=arn,
        status=status,
        definition=definition,
        parameters=typed_parameters(json.loads(definition).get("Parameters") or [], given),
        steps=steps,
        failure_reason=described.get("FailureReason") or None,
        started_at=described.get("CreationTime"),
        ended_at=described.get("LastModifiedTime") if status != "Executing" else None,
        quality_report=quality,
        quality_report_uri=uri,
        notes=tuple(notes),
    )
    train, test = (_points(s3, props, name) for name in ("train", "test"))
    return facts, PlotData(train, test, None, BOUNDARY_NOTE)


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


def _steps(sm: Any, arn: str, notes: list[str]) -> list[StepRecord]:
    try:
        pages = sm.get_paginator("list_pipeline_execution_steps").paginate(
            PipelineExecutionArn=arn, SortOrder="Ascending"
        )
        raw = [s for page in pages for s in page["PipelineExecutionSteps"]]
    except ClientError as exc:
        if not is_unimplemented(exc):
            raise client_error(exc, f"list the steps of {arn}") from None
        notes.append(STEPS_UNAVAILABLE)
        return []
    return [_with_outcome(step_record(s), s) for s in raw]


def _with_outcome(record: StepRecord, raw: Mapping[str, Any]) -> StepRecord:
    """The condition's branch and a cache hit's source, in the local records' keys."""
    extra: dict[str, Any] = {}
    outcome = (record.metadata.get("Condition") or {}).get("Outcome")
    if outcome is not None:
        extra["Outcome"] = str(outcome).lower() == "true"
    source = (raw.get("CacheHitResult") or {}).get("SourcePipelineExecutionArn")
    if source:
        extra["SourceExecutionId"] = str(source).rsplit("/", 1)[-1]
    return replace(record, metadata={**record.metadata, **extra}) if extra else record


def _properties(sm: Any, record: StepRecord) -> dict[str, Any] | None:
    """The Describe* response of the resource a step made (None for job-less steps)."""
    for kind, (method, key, by_name) in _DESCRIBE.items():
        arn = (record.metadata.get(kind) or {}).get("Arn")
        if arn:
            with translate(f"describe {kind} of step {record.name}"):
                found = getattr(sm, method)(**{key: arn.rsplit("/", 1)[-1] if by_name else arn})
            return {k: v for k, v in found.items() if k != "ResponseMetadata"}
    outcome = record.metadata.get("Outcome")
    return None if outcome is None else {"Outcome": outcome}


def _quality_report(
    s3: Any, properties: Sequence[Mapping[str, Any]]
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
        document = _get_json(s3, uri)
        if isinstance(document, dict) and isinstance(document.get(QUALITY_KEY), Mapping):
            return uri, document
    return None, None


def _get(s3: Any, uri: str) -> bytes | None:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError:
        return None


def _get_json(s3: Any, uri: str) -> Any:
    body = _get(s3, uri)
    try:
        return None if body is None else json.loads(body)
    except ValueError:
        return None


def _points(s3: Any, properties: Sequence[Mapping[str, Any]], name: str) -> Any:
    """Rows ``label,x,y`` of the CSVs under the processing output named ``name``."""
    import numpy as np

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
                    io.BytesIO(_get(s3, f"s3://{bucket}/{k}") or b""), delimiter=",", ndmin=2
                )
                for k in keys
            ]
            rows = [r for r in rows if r.ndim == 2 and r.shape[1] >= 3]
            if rows:
                return np.concatenate(rows)
    return None
