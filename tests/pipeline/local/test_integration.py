"""The project's real definition (pipeline.definition.build_pipeline) run end to end locally.

The slowest test here (~20 s: an SDK build, then three jobs that import torch and train for
three epochs); caching on this definition is covered with fixtures in test_target.py. The endpoint
helper is replaced by the fake from conftest, so no server process starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipeline.local.target import LocalTarget

definition = pytest.importorskip(
    "pipeline.definition", reason="pipeline/definition.py (the definition builder) is not there yet"
)
config = pytest.importorskip("pipeline.config", reason="pipeline/config.py is not there yet")


def test_real_definition_runs_end_to_end(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    built = definition.build_pipeline(config.load_config(config.DEFAULT_CONFIG_PATH, environ={}))
    target = LocalTarget(tmp_path)
    target.upsert_pipeline(built, None)
    fast = {"Epochs": 3, "AccuracyThreshold": 0.0}
    first = target.wait(target.start_execution(built.name, fast), lambda r: None)
    assert first.status == "Succeeded", first.failure_reason
    assert [s.name for s in first.steps] == [
        "PrepareMoonData", "TrainMoonClassifier", "EvaluateMoonClassifier", "CheckAccuracy",
        "RegisterMoonModel-RegisterModel", "CreateMoonModel-CreateModel", "MoonEndpointConfig",
        "DeployMoonEndpoint"]
    assert 0.0 <= first.metrics["accuracy"] <= 1.0
    assert first.model_package_arn is not None and first.endpoint is not None
    assert fake_endpoints[0]["model_data"].is_file()
