"""A step's CacheConfig and RetryPolicies, read and checked as SageMaker documents them.

Both are checked when the definition is parsed (so at upsert), never first at run time: a
bad ``ExpireAfter`` used to pass the first run (nothing to look up) and fail the second.

Sources (the full table is docs/semantics.md):

* ``ExpireAfter`` — the Pipelines guide, "Caching pipeline steps": "a string in ISO 8601
  duration format ... a year, month, week, day, hour, or minute value ... '30d' = 30 days;
  '5y' = 5 years; 'T16m' = 16 minutes; '30dT5h' = 30 days and 5 hours"; the SDK's
  ``CacheConfig`` docstring: ``p30d``, ``P4DT12H``, ``T12H``; the guide's code: ``PT1H``.
  So the leading ``P`` is optional and unit letters take either case; ``m`` is months before
  ``T`` and minutes after it. Seconds are ISO 8601 and accepted; fractions are not (no
  source shows one). "The ExpireAfter attribute is ignored when Enabled is false", so it is
  only checked when caching is on.
* ``RetryPolicies`` — the guide, "Retry Policy for Pipeline Steps": ExceptionType,
  IntervalSeconds (default 1, at most 43200), BackoffRate (default 2.0), MaxAttempts
  (default 5, at most 20, 0 = never retried) or ExpireAfterMin (at most 14400, 0 = never),
  "Only one of MaxAttempts or ExpireAfterMin can be given ... the retry policy will generate
  a validation error"; the exception types are the five the guide lists.
"""

from __future__ import annotations

import errno
import functools
import re
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

STEP_SERVICE_FAULT = "Step.SERVICE_FAULT"
STEP_THROTTLING = "Step.THROTTLING"
JOB_INTERNAL_ERROR = "SageMaker.JOB_INTERNAL_ERROR"
CAPACITY_ERROR = "SageMaker.CAPACITY_ERROR"
RESOURCE_LIMIT = "SageMaker.RESOURCE_LIMIT"
EXCEPTION_TYPES = (
    STEP_SERVICE_FAULT,
    STEP_THROTTLING,
    JOB_INTERNAL_ERROR,
    CAPACITY_ERROR,
    RESOURCE_LIMIT,
)
_OLD_SPELLING = {"SageMaker.JOB_CAPACITY_ERROR": CAPACITY_ERROR}
# A job that could not start for want of the machine's resources (not a bad command).
_MACHINE_ERRNOS = frozenset({errno.EAGAIN, errno.ENOMEM, errno.EMFILE, errno.ENFILE})

DEFAULT_INTERVAL_S = 1
DEFAULT_BACKOFF = 2.0
DEFAULT_MAX_ATTEMPTS = 5
MAX_INTERVAL_S = 43200
MAX_ATTEMPTS_CAP = 20
MAX_EXPIRE_AFTER_MIN = 14400
_RETRY_KEYS = {"ExceptionType", "IntervalSeconds", "BackoffRate", "MaxAttempts", "ExpireAfterMin"}
# Step types the guide lists as retryable, and EndpointConfig (the SDK's EndpointConfigStep
# takes retry_policies: "structurally ... retryable"). Condition and Fail run nothing that
# could be retried; the SDK's EndpointStep is "not retryable at the pipeline level".
RETRYABLE_TYPES = frozenset(
    {
        "Processing",
        "Training",
        "Tuning",
        "AutoML",
        "Model",
        "RegisterModel",
        "Transform",
        "NotebookJob",
        "EndpointConfig",
    }
)

_DURATION = (
    r"(?P<p>[Pp])?"
    r"(?:(?P<years>\d+)[Yy])?(?:(?P<months>\d+)[Mm])?(?:(?P<weeks>\d+)[Ww])?(?:(?P<days>\d+)[Dd])?"
    r"(?:[Tt](?=\d)(?:(?P<hours>\d+)[Hh])?(?:(?P<minutes>\d+)[Mm])?(?:(?P<seconds>\d+)[Ss])?)?"
)
_DAYS_PER = {"years": 365, "months": 30, "weeks": 7, "days": 1}
_SECONDS_PER = {"hours": 3600, "minutes": 60, "seconds": 1}


@functools.cache
def _duration() -> re.Pattern[str]:
    return re.compile(_DURATION)


class PolicyError(ValueError):
    """A CacheConfig or RetryPolicies entry SageMaker would not accept; says what to write."""


def parse_expire_after(text: object) -> timedelta:
    """An ``ExpireAfter`` in any form SageMaker documents (``30d``, ``p30d``, ``T16m``,
    ``30dT5h``, ``P4DT12H``, ``PT1H``, ``5y``); months count 30 days, years 365.

    Raises:
        PolicyError: not such a duration (the message shows the accepted forms).
    """
    match = _duration().fullmatch(text) if isinstance(text, str) else None
    parts = {k: int(v) for k, v in match.groupdict().items() if v and k != "p"} if match else {}
    if not parts:
        raise PolicyError(
            f"ExpireAfter {text!r} is not a duration SageMaker accepts; write a number and a "
            "unit (y, m, w, d; after T: h, m, s), e.g. 30d, p30d, T12H, 30dT5h or PT1H"
        )
    days = sum(n * _DAYS_PER[k] for k, n in parts.items() if k in _DAYS_PER)
    seconds = sum(n * _SECONDS_PER[k] for k, n in parts.items() if k in _SECONDS_PER)
    return timedelta(days=days, seconds=seconds)


@dataclass(frozen=True)
class CachePolicy:
    """A step's CacheConfig: on or off, and for how long a result may be reused."""

    enabled: bool = False
    expire_after: timedelta | None = None  # None: no timeout given, entries never expire
    expire_after_text: str | None = None


def parse_cache_config(raw: object) -> CachePolicy:
    """Read ``CacheConfig`` (absent: caching off)."""
    if raw is None or raw == {}:
        return CachePolicy()
    if not isinstance(raw, Mapping):
        raise PolicyError(
            f"CacheConfig must be an object with Enabled and ExpireAfter; got {raw!r}"
        )
    unknown = sorted(set(raw) - {"Enabled", "ExpireAfter"})
    if unknown:
        raise PolicyError(
            f"CacheConfig has unknown key {unknown[0]!r}; it takes Enabled, ExpireAfter"
        )
    enabled = raw.get("Enabled", False)
    if not isinstance(enabled, bool):
        raise PolicyError(f"CacheConfig.Enabled must be true or false; got {enabled!r}")
    if not enabled:
        return CachePolicy()  # "ExpireAfter is ignored when Enabled is false"
    text = raw.get("ExpireAfter")
    if text is None:
        return CachePolicy(True)
    return CachePolicy(True, parse_expire_after(text), str(text))


@dataclass(frozen=True)
class RetryPolicy:
    """One entry of a step's RetryPolicies, defaults applied."""

    exception_types: tuple[str, ...]
    interval_s: float = DEFAULT_INTERVAL_S
    backoff_rate: float = DEFAULT_BACKOFF
    max_attempts: int | None = DEFAULT_MAX_ATTEMPTS  # retries after the first attempt
    expire_after_min: int | None = None

    def delay_before(self, retry: int) -> float:
        """Seconds to wait before the ``retry``-th retry (1-based): interval x rate^(n-1)."""
        return float(self.interval_s) * float(self.backoff_rate) ** (retry - 1)

    def allows(self, retries_so_far: int, since_start: timedelta) -> bool:
        """True if one more retry is allowed after ``retries_so_far`` under this policy."""
        if self.expire_after_min is not None:
            return since_start < timedelta(minutes=self.expire_after_min)
        return retries_so_far < (self.max_attempts or 0)


def parse_retry_policies(raw: object, step_type: str) -> tuple[RetryPolicy, ...]:
    """Read a step's ``RetryPolicies`` (absent: none)."""
    if raw is None or raw == []:
        return ()
    if not isinstance(raw, list):
        raise PolicyError(f"RetryPolicies must be a list of policies; got {raw!r}")
    if step_type not in RETRYABLE_TYPES:
        raise PolicyError(
            f"a {step_type} step cannot have RetryPolicies (retryable step types: "
            f"{', '.join(sorted(RETRYABLE_TYPES))})"
        )
    return tuple(_policy(entry, n) for n, entry in enumerate(raw))


def _policy(entry: object, index: int) -> RetryPolicy:
    where = f"RetryPolicies[{index}]"
    if not isinstance(entry, Mapping):
        raise PolicyError(f"{where} must be an object; got {entry!r}")
    unknown = sorted(set(entry) - _RETRY_KEYS)
    if unknown:
        raise PolicyError(
            f"{where} has unknown key {unknown[0]!r}; a policy takes "
            + ", ".join(sorted(_RETRY_KEYS))
        )
    if "MaxAttempts" in entry and "ExpireAfterMin" in entry:
        raise PolicyError(
            f"{where} gives both MaxAttempts and ExpireAfterMin; SageMaker accepts only one"
        )
    types = _exception_types(entry.get("ExceptionType"), where)
    interval = _number(entry, "IntervalSeconds", DEFAULT_INTERVAL_S, 0, MAX_INTERVAL_S, where)
    backoff = _number(entry, "BackoffRate", DEFAULT_BACKOFF, 0, None, where)
    if "ExpireAfterMin" in entry:
        expire = int(_number(entry, "ExpireAfterMin", 0, 0, MAX_EXPIRE_AFTER_MIN, where, True))
        return RetryPolicy(types, interval, backoff, None, expire)
    attempts = int(
        _number(entry, "MaxAttempts", DEFAULT_MAX_ATTEMPTS, 0, MAX_ATTEMPTS_CAP, where, True)
    )
    return RetryPolicy(types, interval, backoff, attempts, None)


def _exception_types(raw: object, where: str) -> tuple[str, ...]:
    listed = [raw] if isinstance(raw, str) else raw
    if not isinstance(listed, list) or not listed:
        raise PolicyError(
            f"{where}.ExceptionType must list one or more of {', '.join(EXCEPTION_TYPES)}"
        )
    for name in listed:
        if name not in EXCEPTION_TYPES:
            hint = f" (now spelled {_OLD_SPELLING[name]})" if name in _OLD_SPELLING else ""
            raise PolicyError(
                f"{where}.ExceptionType {name!r} is not one SageMaker knows{hint}; "
                f"use {', '.join(EXCEPTION_TYPES)}"
            )
    return tuple(listed)


def _number(
    entry: Mapping[str, Any],
    key: str,
    default: float,
    low: float,
    high: float | None,
    where: str,
    integer: bool = False,
) -> float:
    value = entry.get(key, default)
    kind_ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not kind_ok:
        kind = "an integer" if integer else "a number"
        raise PolicyError(f"{where}.{key} must be {kind}; got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"from {low:g} to {high:g}" if high is not None else f"{low:g} or more"
        raise PolicyError(f"{where}.{key} must be {bound}; got {value!r}")
    return float(value)


def policy_for(policies: Sequence[RetryPolicy], error_type: str | None) -> RetryPolicy | None:
    """The first policy that lists ``error_type`` (None: the failure is not retried)."""
    if error_type is None:
        return None
    return next((p for p in policies if error_type in p.exception_types), None)


def job_failure_type(exit_code: int, start_errno: int | None = None) -> str | None:
    """Which ExceptionType a failed local job is; None for the job's own failure.

    The guide names the retryable job failures by their cause on SageMaker's side: an
    InternalServerError of the job (JOB_INTERNAL_ERROR), EC2 capacity (CAPACITY_ERROR), an
    account quota (RESOURCE_LIMIT, never locally). Their local counterparts (docs/semantics.md):

    * the job could not be started for want of the machine's resources (fork or file limits:
      EAGAIN, ENOMEM, EMFILE, ENFILE): the local "service" failed, so JOB_INTERNAL_ERROR;
    * the job was killed by SIGKILL that the engine did not send (it sends SIGTERM first
      and raises when it stops a job itself): on Linux that is the kernel's OOM killer, the
      machine lacking the memory the job needed, so CAPACITY_ERROR.

    A non-zero exit (the script's error: an AlgorithmError on SageMaker) is never retried.
    """
    if start_errno is not None:
        return JOB_INTERNAL_ERROR if start_errno in _MACHINE_ERRNOS else None
    if exit_code == -signal.SIGKILL:
        return CAPACITY_ERROR
    return None
