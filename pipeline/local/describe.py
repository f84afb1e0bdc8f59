"""Step properties as SageMaker has them: the Describe* response of the step's job or resource.

The guide ("Step properties"): "The properties attribute of a Pipelines step matches the
object returned by a Describe call for the corresponding SageMaker AI job type" — Processing:
DescribeProcessingJob, Training: DescribeTrainingJob; the SDK (workflow/steps.py,
_utils.py) adds Model: DescribeModel, RegisterModel: DescribeModelPackage, EndpointConfig:
DescribeEndpointConfig, Endpoint: DescribeEndpoint; a Condition has only ``Outcome``
("True"/"False", the API's ConditionOutcome); a Fail step has none.

So a step's properties are the request's members that the response also has (the response
echoes them), plus the members the service fills in, with the values the local job really
had: its name, ARN, status, creation/start/end times, training time, the secondary status
transitions, the model artifact, the final metrics. Which members exist, and so which
property references a definition may hold, comes from botocore's output shapes (never a
list kept here); :func:`reference_problems` checks every ``Get Steps.X...`` against them
when a pipeline is upserted, so a typo is refused before anything runs.

Timestamps are ISO 8601 strings (UTC): definitions are JSON, and a reference to one (say, in
a Std:Join) gets text. A few members are moonpipe's own additions, kept beside the response
and never referenceable: :data:`EXTENSIONS`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipeline.core.names import utc_now
from pipeline.local.gate_model import service_model
from pipeline.local.shapes import Shape

if TYPE_CHECKING:
    from pipeline.local.graph import PipelineGraph, StepSpec

DESCRIBE_OPERATIONS = {
    "Processing": "DescribeProcessingJob",
    "Training": "DescribeTrainingJob",
    "Model": "DescribeModel",
    "RegisterModel": "DescribeModelPackage",
    "EndpointConfig": "DescribeEndpointConfig",
    "Endpoint": "DescribeEndpoint",
}
CONDITION_PROPERTIES = ("Outcome",)
# moonpipe's additions: every value a MetricDefinition matched (what SageMaker sends to
# CloudWatch and Studio charts per epoch), the local endpoint's URL.
EXTENSIONS = {"Training": ("MetricSeries",), "Endpoint": ("EndpointUrl",)}
_TOKEN = r"\.?([A-Za-z_][\w:-]*)|\[(-?\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]"
_NEAREST = 1


def iso(moment: datetime) -> str:
    """How a timestamp member is kept (ISO 8601, UTC)."""
    return moment.isoformat()


def output_shape(step_type: str) -> Shape | None:
    """The shape (botocore's model) a step type's properties take (None: no Describe* response)."""
    operation = DESCRIBE_OPERATIONS.get(step_type)
    if operation is None:
        return None
    return service_model().operation_model(operation).output_shape


def described(
    step_type: str, request: Mapping[str, Any], filled: Mapping[str, Any]
) -> dict[str, Any]:
    """The response: ``request``'s members the response has too, then the ``filled`` ones."""
    shape = output_shape(step_type)
    members = set(shape.members) if shape is not None else set()
    return {**{k: v for k, v in request.items() if k in members}, **filled}


@dataclass(frozen=True)
class JobTimes:
    """When a local job was created, started, finished its work and ended (uploads done)."""

    created: datetime
    started: datetime
    finished: datetime
    ended: datetime

    @classmethod
    def until_now(cls, created: datetime, started: datetime, finished: datetime) -> JobTimes:
        """The times of a job that ends now."""
        return cls(created, started, finished, utc_now())


def processing_job(
    request: Mapping[str, Any], job_name: str, arn: str, times: JobTimes
) -> dict[str, Any]:
    """DescribeProcessingJob of a Completed local job."""
    return described(
        "Processing",
        request,
        {
            "ProcessingJobName": job_name,
            "ProcessingJobArn": arn,
            "ProcessingJobStatus": "Completed",
            "CreationTime": iso(times.created),
            "ProcessingStartTime": iso(times.started),
            "ProcessingEndTime": iso(times.ended),
            "LastModifiedTime": iso(times.ended),
        },
    )


def training_job(
    request: Mapping[str, Any],
    job_name: str,
    arn: str,
    model_uri: str,
    final_metrics: list[dict[str, Any]],
    metric_series: Mapping[str, list[float]],
    times: JobTimes,
) -> dict[str, Any]:
    """DescribeTrainingJob of a Completed local job, plus ``MetricSeries`` (EXTENSIONS).

    TrainingTimeInSeconds and BillableTimeInSeconds are the script's wall time (a local
    job has no instance to bill); SecondaryStatusTransitions are the phases it really went
    through: Starting (inputs fetched, code laid out), Training (the script), Uploading
    (model.tar.gz stored), Completed.
    """
    seconds = max(0, round((times.finished - times.started).total_seconds()))
    phases = [
        ("Starting", times.created, times.started, "Preparing the instances for training"),
        ("Training", times.started, times.finished, "Training in progress"),
        ("Uploading", times.finished, times.ended, "Uploading generated training model"),
        ("Completed", times.ended, times.ended, "Training job completed"),
    ]
    return described(
        "Training",
        request,
        {
            "TrainingJobName": job_name,
            "TrainingJobArn": arn,
            "TrainingJobStatus": "Completed",
            "SecondaryStatus": "Completed",
            "ModelArtifacts": {"S3ModelArtifacts": model_uri},
            "FinalMetricDataList": final_metrics,
            "CreationTime": iso(times.created),
            "TrainingStartTime": iso(times.started),
            "TrainingEndTime": iso(times.ended),
            "LastModifiedTime": iso(times.ended),
            "TrainingTimeInSeconds": seconds,
            "BillableTimeInSeconds": seconds,
            "SecondaryStatusTransitions": [
                {"Status": s, "StartTime": iso(a), "EndTime": iso(b), "StatusMessage": m}
                for s, a, b, m in phases
            ],
            "MetricSeries": {name: list(values) for name, values in metric_series.items()},
        },
    )


def model(record: Mapping[str, Any]) -> dict[str, Any]:
    """DescribeModel of a stored model (its record holds the request, name, ARN, time)."""
    return described("Model", record, {})


def model_package(record: Mapping[str, Any]) -> dict[str, Any]:
    """DescribeModelPackage of a stored package version: a versioned package is named after
    its group; nothing validates or scans it locally, so both status lists are empty."""
    return described(
        "RegisterModel",
        record,
        {
            "ModelPackageName": record.get("ModelPackageGroupName"),
            "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
            "LastModifiedTime": record.get("CreationTime"),
        },
    )


def endpoint_config(record: Mapping[str, Any]) -> dict[str, Any]:
    """DescribeEndpointConfig of a stored config."""
    return described("EndpointConfig", record, {})


def endpoint(
    request: Mapping[str, Any], arn: str, variants: list[Mapping[str, Any]], url: str | None
) -> dict[str, Any]:
    """DescribeEndpoint of an endpoint now InService with the config's variants."""
    now = iso(utc_now())
    return described(
        "Endpoint",
        request,
        {
            "EndpointArn": arn,
            "EndpointStatus": "InService",
            "ProductionVariants": [_variant_summary(v) for v in variants],
            "CreationTime": now,
            "LastModifiedTime": now,
            "EndpointUrl": url,
        },
    )


def _variant_summary(variant: Mapping[str, Any]) -> dict[str, Any]:
    count = variant.get("InitialInstanceCount", 1)
    weight = variant.get("InitialVariantWeight", 1.0)
    return {
        "VariantName": variant.get("VariantName"),
        "CurrentWeight": weight,
        "DesiredWeight": weight,
        "CurrentInstanceCount": count,
        "DesiredInstanceCount": count,
    }


# -- property references, checked at upsert --------------------------------------------------


def reference_problems(graph: PipelineGraph) -> list[str]:
    """Every ``Get Steps.X.<path>`` in the definition whose path X's response does not have."""
    from pipeline.local.graph import references

    by_name = {s.name: s for s in graph.steps}
    problems: list[str] = []
    for spec in graph.steps:
        for ref in dict.fromkeys(references(spec.arguments)):
            if not ref.startswith("Steps."):
                continue
            step_name, _, path = ref[len("Steps.") :].partition(".")
            target = by_name.get(step_name)
            if target is None:
                continue  # graph.py refuses an unknown step with its own words
            why = path_problem(target, path)
            if why is not None:
                problems.append(f"step {spec.name} references {ref}: {why}")
    return problems


def path_problem(step: StepSpec, path: str) -> str | None:
    """Why ``path`` is not a property of ``step`` (None: it is)."""
    tokens = _tokens(path)
    if tokens is None or not tokens or not isinstance(tokens[0], str):
        return f"cannot read the property path {path!r}"
    first = tokens[0]
    if first == "PropertyFiles":
        return _property_file_problem(step, tokens[1:])
    if step.step_type == "Condition":
        if tokens != ["Outcome"]:
            return "a Condition step's only property is Outcome"
        return None
    shape = output_shape(step.step_type)
    if shape is None:
        return f"a {step.step_type} step has no properties"
    operation = DESCRIBE_OPERATIONS[step.step_type]
    return _walk_shape(shape, tokens, operation)


def _property_file_problem(step: StepSpec, rest: list[str | int]) -> str | None:
    names = [str(f.get("PropertyFileName")) for f in step.property_files]
    if len(rest) != 1 or not isinstance(rest[0], str):
        return "a property file is referenced as PropertyFiles.<PropertyFileName>"
    if rest[0] not in names:
        declared = ", ".join(names) if names else "none"
        return f"step {step.name} declares no property file {rest[0]!r} (declared: {declared})"
    return None


def _walk_shape(shape: Shape, tokens: list[str | int], operation: str) -> str | None:
    where = operation
    for token in tokens:
        kind = shape.type_name
        if kind == "structure" and isinstance(token, str):
            name = token[1:] if _indexed(token) else token
            if name not in shape.members:
                return f"{where} has no member {name!r}{_nearest(name, shape.members)}"
            shape, where = shape.members[name], f"{where}.{name}"
        elif kind == "list" and (isinstance(token, int) or _indexed(str(token))):
            shape, where = shape.member, f"{where}[{_plain(token)}]"
        elif kind == "map" and isinstance(token, str) and _indexed(token):
            shape, where = shape.value, f"{where}[{_plain(token)}]"
        else:
            return f"{where} is a {kind}; it has no {_shown(token)}"
    return None


def _plain(token: str | int) -> str:
    return str(token) if isinstance(token, int) else repr(token[1:])


def _indexed(token: str) -> bool:
    return token.startswith("\0")  # a quoted key: never a structure member


def _tokens(path: str) -> list[str | int] | None:
    """``A.B['k'][0].C`` -> ["A", "B", "\\0k", 0, "C"] (quoted keys marked); None if unreadable."""
    found: list[str | int] = []
    position, token = 0, _compiled(_TOKEN)
    while position < len(path):
        match = token.match(path, position)
        if match is None:
            return None
        position = match.end()
        name, index, *quoted = match.groups()
        if name is not None:
            found.append(name)
        elif index is not None:
            found.append(int(index))
        else:
            found.append("\0" + next(q for q in quoted if q is not None))
    return found


def _shown(token: str | int) -> str:
    if isinstance(token, int):
        return f"index [{token}]"
    return f"key [{token[1:]!r}]" if _indexed(token) else f"member {token!r}"


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)  # at first use: the upsert check, not every run's import


def _nearest(token: str, members: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(token, list(members), n=_NEAREST)
    return f" (did you mean {close[0]}?)" if close else ""
