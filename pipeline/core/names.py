"""The rules every room shares: SageMaker names, durations, S3 URIs, local ARNs, the clock.

Each rule lives here once, so the config check, the local store, the endpoint and the
targets cannot drift apart (they did: three name regexes, two duration parsers, two S3 URI
parsers, three spellings of the local account's ARNs). Pure functions, standard library only:
the entrypoints never import this (they run inside SageMaker's containers).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

# SageMaker's EndpointName / ModelName / ModelPackageGroupName pattern (CreateEndpoint etc.).
RESOURCE_NAME = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
RESOURCE_NAME_TEXT = "1-63 letters, digits and hyphens, starting with a letter or digit"
# SageMaker's PipelineName pattern (CreatePipeline).
PIPELINE_NAME = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}"
PIPELINE_NAME_TEXT = "1-256 letters, digits and hyphens, starting with a letter or digit"
# What the local store accepts as one path segment: any of the names above, plus the
# underscores a pipeline's step names (and so the job names made from them) may hold.
RECORD_NAME = r"[A-Za-z0-9][A-Za-z0-9_-]{0,255}"

_RESOURCE_NAME = re.compile(RESOURCE_NAME)
_RECORD_NAME = re.compile(RECORD_NAME)

# An ISO 8601 duration as CacheConfig.ExpireAfter takes it: at least one number, and a
# number after a T (so P, PT and P1DT are refused).
ISO_DURATION = (
    r"P(?=\d|T\d)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?"
    r"(?:(?P<days>\d+)D)?(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?"
)
_ISO_DURATION = re.compile(ISO_DURATION)
_DAYS_PER = {"years": 365, "months": 30, "weeks": 7, "days": 1}
_SECONDS_PER = {"hours": 3600, "minutes": 60, "seconds": 1}

# The account the local engine's ARNs name: SageMaker's shape, an account that cannot exist.
LOCAL_ACCOUNT = "000000000000"


def is_resource_name(name: object) -> bool:
    """True if SageMaker accepts ``name`` as an endpoint, model or package group name."""
    return isinstance(name, str) and _RESOURCE_NAME.fullmatch(name) is not None


def check_record_name(kind: str, name: object) -> str:
    """Return ``name`` if the local store may use it as a path segment, else ValueError."""
    if not isinstance(name, str) or _RECORD_NAME.fullmatch(name) is None:
        raise ValueError(
            f"{kind} name {name!r} is invalid; use letters, digits, '-' and '_' (max 256)"
        )
    return name


def parse_duration(text: str, what: str = "ExpireAfter") -> timedelta:
    """An ISO 8601 duration (P30D, PT1H, P1Y2M...); months count 30 days, years 365.

    Raises:
        ValueError: ``text`` is not such a duration (the message names ``what``).
    """
    match = _ISO_DURATION.fullmatch(text or "")
    if match is None:
        raise ValueError(f"{what} {text!r} is not an ISO 8601 duration like P30D or PT1H")
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    days = sum(n * _DAYS_PER[k] for k, n in parts.items() if k in _DAYS_PER)
    seconds = sum(n * _SECONDS_PER[k] for k, n in parts.items() if k in _SECONDS_PER)
    return timedelta(days=days, seconds=seconds)


def split_s3_uri(uri: object) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key); the key may be empty (a bucket-wide prefix).

    Raises:
        ValueError: not an ``s3://`` URI, or no usable bucket name.
    """
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or bucket in {".", ".."} or "\\" in bucket:
        raise ValueError(f"{uri!r} has no valid bucket name")
    return bucket, key


def local_arn(region: str, resource_type: str, name: str) -> str:
    """The ARN SageMaker would give a resource, in the local engine's account.

    SageMaker lower-cases the resource name in its ARNs (a pipeline ``MoonPipe`` is
    ``pipeline/moonpipe``), so every local ARN does too. ``name`` may carry a suffix such as
    a model package's ``/<version>``.
    """
    return f"arn:aws:sagemaker:{region}:{LOCAL_ACCOUNT}:{resource_type}/{name.lower()}"


def utc_now() -> datetime:
    """The current time, always timezone-aware UTC: records compare and sort these."""
    return datetime.now(timezone.utc)
