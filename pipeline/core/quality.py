"""What a model-quality report is and which metrics it holds: the one home of that rule.

SageMaker's binary-classification model-quality report (what entrypoints/evaluate.py writes,
what the model registry keeps as ModelMetrics.ModelQuality.Statistics) holds its metrics under
one key, each as ``{"value": number, "standard_deviation": ...}``; a training job's
FinalMetricDataList holds the last value of each MetricDefinitions regex. The engine's
summaries, the local registry, the SageMaker target, the report and the sweep read both
through these functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

QUALITY_KEY = "binary_classification_metrics"

# The scalar metrics of the report, as entrypoints/evaluate.py writes them
# (tests/pipeline/sweep/test_plan.py keeps the two equal).
QUALITY_METRICS = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "auc",
    "true_positive_rate",
    "true_negative_rate",
    "false_positive_rate",
    "false_negative_rate",
)


def is_quality_report(document: Any) -> bool:
    """True for a document of the report's shape (a mapping under QUALITY_KEY)."""
    return isinstance(document, Mapping) and isinstance(document.get(QUALITY_KEY), Mapping)


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


def statistics_uri(record: Mapping[str, Any]) -> str | None:
    """The S3 URI of a model package's (or RegisterModel step's) ModelQuality statistics."""
    stats = ((record.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics")
    uri = stats.get("S3Uri") if isinstance(stats, Mapping) else None
    return uri if isinstance(uri, str) else None
