"""ExecutionFacts for the hand-made definition in tests/pipeline/local/local_defs.py."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from pipeline.core.records import ExecutionFacts, StepRecord
from tests.pipeline.local.local_defs import full_definition

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
QUALITY = {
    "binary_classification_metrics": {
        "accuracy": {"value": 0.9, "standard_deviation": "NaN"},
        "precision": {"value": 0.8},
        "recall": {"value": 0.95},
        "f1": {"value": 0.87},
        "auc": {"value": 0.93},
        "confusion_matrix": {"0": {"0": 60, "1": 11}, "1": {"0": 4, "1": 75}},
        "receiver_operating_characteristic_curve": {
            "false_positive_rates": [0.0, 0.2, 1.0],
            "true_positive_rates": [0.0, 0.9, 1.0],
        },
        "precision_recall_curve": {"precisions": [1.0, 0.9, 0.5], "recalls": [0.0, 0.9, 1.0]},
    }
}


def record(name: str, step_type: str, status: str, second: int, **extra: Any) -> StepRecord:
    """A step record that started ``second`` seconds in and took a second (unless running)."""
    started = T0 + timedelta(seconds=second)
    ended = None if status == "Executing" else started + timedelta(seconds=1)
    return StepRecord(name, step_type, status, started_at=started, ended_at=ended, **extra)


def facts(
    steps: list[tuple[StepRecord, Any]],
    status: str = "Succeeded",
    parameters: dict[str, Any] | None = None,
    **extra: Any,
) -> ExecutionFacts:
    """Facts of an execution of full_definition() with these step records."""
    return ExecutionFacts(
        target="local",
        pipeline_name="p",
        execution_id="e1",
        execution_arn="arn:aws:sagemaker:us-east-1:000000000000:pipeline/p/execution/e1",
        status=status,
        definition=json.dumps(full_definition()),
        parameters=parameters
        or {"HiddenDim": 20, "Rows": 3, "Accuracy": 0.9, "Threshold": 0.5, "EndpointName": "ep"},
        steps=steps,
        started_at=T0,
        ended_at=None if status == "Executing" else T0 + timedelta(seconds=30),
        **extra,
    )


def upstream_steps(branch: bool = True) -> list[tuple[StepRecord, Any]]:
    """Prep, Train, Eval and Check succeeded; Check took ``branch``."""
    train_props = {
        "ModelArtifacts": {"S3ModelArtifacts": "s3://bkt/m/model.tar.gz"},
        "HyperParameters": {"hidden_dim": "40"},
        "MetricSeries": {"train:loss": [0.9, 0.5, 0.3]},
        "FinalMetricDataList": [{"MetricName": "train:loss", "Value": 0.3}],
    }
    return [
        (record("Prep", "Processing", "Succeeded", 0), {"ProcessingJobStatus": "Completed"}),
        (record("Train", "Training", "Succeeded", 2), train_props),
        (record("Eval", "Processing", "Succeeded", 4), {}),
        (
            record("Check", "Condition", "Succeeded", 6, metadata={"Outcome": branch}),
            {"Outcome": branch},
        ),
    ]
