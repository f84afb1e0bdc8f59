"""CacheConfig and RetryPolicies as the Pipelines guide documents them, table-tested."""

from __future__ import annotations

import errno
import signal
from datetime import timedelta
from typing import Any

import pytest

from pipeline.local.policies import (
    CAPACITY_ERROR,
    JOB_INTERNAL_ERROR,
    PolicyError,
    RetryPolicy,
    job_failure_type,
    parse_cache_config,
    parse_expire_after,
    parse_retry_policies,
    policy_for,
)

DAY, HOUR, MINUTE = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)


@pytest.mark.parametrize(
    ("text", "duration"),
    [
        ("30d", 30 * DAY),  # the guide's examples
        ("5y", 5 * 365 * DAY),
        ("T16m", 16 * MINUTE),
        ("30dT5h", 30 * DAY + 5 * HOUR),
        ("30DT5h", 30 * DAY + 5 * HOUR),  # the guide's Italian page
        ("p30d", 30 * DAY),  # the SDK's CacheConfig docstring
        ("P4DT12H", 4 * DAY + 12 * HOUR),
        ("T12H", 12 * HOUR),
        ("P30d", 30 * DAY),  # the SDK's readthedocs
        ("PT1H", HOUR),  # the guide's code
        ("P30M", 30 * 30 * DAY),  # months before T
        ("PT30M", 30 * MINUTE),  # minutes after T
        ("2w", 14 * DAY),
        ("PT90S", timedelta(seconds=90)),  # ISO 8601 seconds
    ],
)
def test_every_documented_expire_after_form(text: str, duration: timedelta) -> None:
    assert parse_expire_after(text) == duration


@pytest.mark.parametrize("text", ["", "P", "T", "PT", "1.5d", "d", "30", "30 d", "T5", "3h", 7])
def test_what_is_no_duration_is_refused_with_the_forms_that_are(text: Any) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_expire_after(text)
    assert str(caught.value) == (
        f"ExpireAfter {text!r} is not a duration SageMaker accepts; write a number and a unit "
        "(y, m, w, d; after T: h, m, s), e.g. 30d, p30d, T12H, 30dT5h or PT1H"
    )


def test_expire_after_is_ignored_when_caching_is_off() -> None:
    assert not parse_cache_config({"Enabled": False, "ExpireAfter": "nonsense"}).enabled
    assert parse_cache_config({"Enabled": True}).expire_after is None
    with pytest.raises(PolicyError, match=r"CacheConfig\.Enabled must be true or false"):
        parse_cache_config({"Enabled": "yes"})


def test_retry_defaults_are_the_guides() -> None:
    [policy] = parse_retry_policies([{"ExceptionType": [CAPACITY_ERROR]}], "Training")
    assert policy == RetryPolicy((CAPACITY_ERROR,), 1, 2.0, 5, None)
    assert [policy.delay_before(n) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
    assert policy.allows(4, timedelta(0)) and not policy.allows(5, timedelta(0))
    by_time = RetryPolicy((CAPACITY_ERROR,), expire_after_min=2, max_attempts=None)
    assert by_time.allows(100, MINUTE) and not by_time.allows(0, 2 * MINUTE)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"ExceptionType": ["SageMaker.JOB_CAPACITY_ERROR"]},
            "RetryPolicies[0].ExceptionType 'SageMaker.JOB_CAPACITY_ERROR' is not one SageMaker "
            "knows (now spelled SageMaker.CAPACITY_ERROR); use Step.SERVICE_FAULT, "
            "Step.THROTTLING, SageMaker.JOB_INTERNAL_ERROR, SageMaker.CAPACITY_ERROR, "
            "SageMaker.RESOURCE_LIMIT",
        ),
        (
            {"ExceptionType": [CAPACITY_ERROR], "MaxAttempts": 21},
            "RetryPolicies[0].MaxAttempts must be from 0 to 20; got 21",
        ),
        (
            {"ExceptionType": [CAPACITY_ERROR], "IntervalSeconds": 43201},
            "RetryPolicies[0].IntervalSeconds must be from 0 to 43200; got 43201",
        ),
        (
            {"ExceptionType": [CAPACITY_ERROR], "ExpireAfterMin": 14401},
            "RetryPolicies[0].ExpireAfterMin must be from 0 to 14400; got 14401",
        ),
        (
            {"ExceptionType": [CAPACITY_ERROR], "BackoffRate": -1},
            "RetryPolicies[0].BackoffRate must be 0 or more; got -1",
        ),
        (
            {"ExceptionType": []},
            "RetryPolicies[0].ExceptionType must list one or more of Step.SERVICE_FAULT, "
            "Step.THROTTLING, SageMaker.JOB_INTERNAL_ERROR, SageMaker.CAPACITY_ERROR, "
            "SageMaker.RESOURCE_LIMIT",
        ),
        (
            {"ExceptionType": [CAPACITY_ERROR], "Retries": 2},
            "RetryPolicies[0] has unknown key 'Retries'; a policy takes BackoffRate, "
            "ExceptionType, ExpireAfterMin, IntervalSeconds, MaxAttempts",
        ),
    ],
)
def test_a_policy_sagemaker_would_not_take_is_refused(entry: Any, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_retry_policies([entry], "Processing")
    assert str(caught.value) == message


def test_a_condition_cannot_have_retry_policies() -> None:
    with pytest.raises(PolicyError, match="a Condition step cannot have RetryPolicies"):
        parse_retry_policies([{"ExceptionType": [CAPACITY_ERROR]}], "Condition")


def test_the_first_policy_that_lists_the_failure_applies() -> None:
    policies = parse_retry_policies(
        [
            {"ExceptionType": [JOB_INTERNAL_ERROR], "MaxAttempts": 1},
            {"ExceptionType": [CAPACITY_ERROR, JOB_INTERNAL_ERROR], "MaxAttempts": 3},
        ],
        "Training",
    )
    assert policy_for(policies, JOB_INTERNAL_ERROR) is policies[0]
    assert policy_for(policies, CAPACITY_ERROR) is policies[1]
    assert policy_for(policies, None) is None


@pytest.mark.parametrize(
    ("exit_code", "start_errno", "kind"),
    [
        (-signal.SIGKILL, None, CAPACITY_ERROR),  # the OOM killer
        (1, None, None),  # the script's own error: AlgorithmError, never retried
        (-signal.SIGTERM, None, None),
        (127, errno.EAGAIN, JOB_INTERNAL_ERROR),  # could not fork: the machine
        (127, errno.ENOMEM, JOB_INTERNAL_ERROR),
        (127, errno.ENOENT, None),  # no such program: the request's error
    ],
)
def test_which_local_job_failures_are_which_exception_type(
    exit_code: int, start_errno: int | None, kind: str | None
) -> None:
    assert job_failure_type(exit_code, start_errno) == kind
