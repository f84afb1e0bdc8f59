"""A model-quality report on S3, read the way SageMaker keeps it (ModelQuality statistics in
the format entrypoints/evaluate.py writes); what the report holds is pipeline.core.quality."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from pipeline.core.quality import is_quality_report


def quality_document(s3: Any, uri: str) -> dict[str, Any] | None:
    """The quality report at ``uri``, or None when it is absent or not such a report."""
    document = read_json(s3, uri)
    return document if is_quality_report(document) and isinstance(document, dict) else None


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
