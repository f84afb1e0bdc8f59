"""A model's metrics as SageMaker keeps them: the model-quality report on S3 (the format
entrypoints/evaluate.py writes, SageMaker's ModelQuality statistics) and a training job's
FinalMetricDataList (its MetricDefinitions applied to the log)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from botocore.exceptions import ClientError

QUALITY_KEY = "binary_classification_metrics"


def quality_metrics(document: Mapping[str, Any] | None) -> dict[str, float]:
    """Every ``{"value": number}`` entry of a quality report, in the report's order."""
    return {
        name: float(entry["value"])
        for name, entry in ((document or {}).get(QUALITY_KEY) or {}).items()
        if isinstance(entry, Mapping) and isinstance(entry.get("value"), (int, float))
    }


def training_metrics(properties: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """The final training metrics of every DescribeTrainingJob answer among ``properties``."""
    return {
        m["MetricName"]: float(m["Value"])
        for props in properties
        for m in props.get("FinalMetricDataList") or []
        if isinstance(m, Mapping) and isinstance(m.get("Value"), (int, float))
    }


def quality_document(s3: Any, uri: str) -> dict[str, Any] | None:
    """The quality report at ``uri``, or None when it is absent or not such a report."""
    document = read_json(s3, uri)
    if isinstance(document, dict) and isinstance(document.get(QUALITY_KEY), Mapping):
        return document
    return None


def read_object(s3: Any, uri: str) -> bytes | None:
    """The object's bytes; None when S3 refuses (missing, not ours): said, never faked."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError:
        return None


def read_json(s3: Any, uri: str) -> Any:
    """The object parsed as JSON; None when it is missing or not JSON."""
    body = read_object(s3, uri)
    try:
        return None if body is None else json.loads(body)
    except ValueError:
        return None
