"""The status enum: SageMaker's words, equal to the text records hold, printed as the word."""

from __future__ import annotations

import json

import pytest

from pipeline.core.status import ACTIVE, ENDED, RETRYABLE, Status, is_active, is_ended


def test_a_status_equals_its_word_and_prints_and_serialises_as_it() -> None:
    assert Status.SUCCEEDED == "Succeeded"
    assert Status("Failed") is Status.FAILED
    assert f"{Status.STOPPED}" == "Stopped" and str(Status.EXECUTING) == "Executing"
    assert json.dumps({"status": Status.NOT_RUN}) == '{"status": "NotRun"}'


@pytest.mark.parametrize(
    ("word", "active", "ended"),
    [
        ("Starting", True, False),
        ("Executing", True, False),
        ("Stopping", True, False),
        ("Succeeded", False, True),
        ("Failed", False, True),
        ("Stopped", False, True),
        ("Pending", False, False),
        ("NotRun", False, False),
        (None, False, False),
    ],
)
def test_active_and_ended_split_the_statuses(word: str | None, active: bool, ended: bool) -> None:
    assert is_active(word) is active
    assert is_ended(word) is ended


def test_only_failed_and_stopped_executions_can_be_retried() -> None:
    assert {"Failed", "Stopped"} == RETRYABLE
    assert not ACTIVE & ENDED
