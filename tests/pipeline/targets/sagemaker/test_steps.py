"""ListPipelineExecutionSteps entries as StepRecords."""

from __future__ import annotations

from pipeline.targets.sagemaker.steps import step_record
from tests.pipeline.targets.sagemaker.support import (
    step,
)


def test_failed_step_keeps_reason_and_a_job_less_step_has_no_log() -> None:
    record = step_record(
        step(
            "CheckAccuracy",
            "Failed",
            0,
            FailureReason="bad",
            Metadata={"Condition": {"Outcome": "False"}},
        )
    )
    assert (record.step_type, record.failure_reason, record.log_path) == ("Condition", "bad", None)


def test_a_retried_step_keeps_its_attempt_count() -> None:
    record = step_record(
        step("Train", "Succeeded", 5, AttemptCount=3, Metadata={"TrainingJob": {"Arn": "a/j"}})
    )
    assert record.attempt_count == 3
