"""TrainMoonClassifier as it appears in the definition."""

from __future__ import annotations

import io
import json
import re
import tarfile
from typing import Any

from steps.training import METRIC_DEFINITIONS


def _param(name: str) -> dict[str, Any]:
    return {"Std:Join": {"On": "", "Values": [{"Get": f"Parameters.{name}"}]}}


def test_pytorch_training_image_and_instance_parameter(steps: dict[str, dict[str, Any]]) -> None:
    args = steps["TrainMoonClassifier"]["Arguments"]
    assert steps["TrainMoonClassifier"]["Type"] == "Training"
    image = args["AlgorithmSpecification"]["TrainingImage"]
    assert image.endswith("/pytorch-training:2.6.0-cpu-py312")
    assert args["ResourceConfig"]["InstanceType"] == {"Get": "Parameters.TrainingInstanceType"}


def test_hyperparameters_are_wired_to_parameters(steps: dict[str, dict[str, Any]]) -> None:
    hps = steps["TrainMoonClassifier"]["Arguments"]["HyperParameters"]
    assert {k: v for k, v in hps.items() if not k.startswith("sagemaker_")} == {
        "hidden_dim": _param("HiddenDim"),
        "epochs": _param("Epochs"),
        "lr": _param("LearningRate"),
        "batch_size": _param("BatchSize"),
        "seed": _param("TrainSeed"),
    }
    assert json.loads(hps["sagemaker_program"]) == "train.py"


def test_train_channel_comes_from_the_data_step(steps: dict[str, dict[str, Any]]) -> None:
    (channel,) = steps["TrainMoonClassifier"]["Arguments"]["InputDataConfig"]
    assert channel["ChannelName"] == "train"
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == {
        "Get": "Steps.PrepareMoonData.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
    }


def test_metric_definitions_match_train_py_log_lines(steps: dict[str, dict[str, Any]]) -> None:
    spec = steps["TrainMoonClassifier"]["Arguments"]["AlgorithmSpecification"]
    assert spec["MetricDefinitions"] == METRIC_DEFINITIONS
    line = "epoch=3 train_loss=0.3125 train_accuracy=8.5e-01"
    found = {m["Name"]: re.findall(m["Regex"], line) for m in METRIC_DEFINITIONS}
    assert found == {"train:loss": ["0.3125"], "train:accuracy": ["8.5e-01"]}


def test_no_debugger_profiler_or_rules(steps: dict[str, dict[str, Any]]) -> None:
    args = steps["TrainMoonClassifier"]["Arguments"]
    assert "DebugHookConfig" not in args
    assert "DebugRuleConfigurations" not in args
    assert "ProfilerRuleConfigurations" not in args
    assert args.get("ProfilerConfig", {"DisableProfiler": True}) == {"DisableProfiler": True}


def test_source_tarball_holds_only_the_scripts(
    steps: dict[str, dict[str, Any]], built: Any
) -> None:
    hps = steps["TrainMoonClassifier"]["Arguments"]["HyperParameters"]
    uri = json.loads(hps["sagemaker_submit_directory"])
    with tarfile.open(fileobj=io.BytesIO(built.artifacts[uri])) as tar:
        names = sorted(tar.getnames())
    assert names == ["evaluate.py", "inference.py", "model.py", "preprocess.py", "train.py"]


def test_display_name_description_and_cache(steps: dict[str, dict[str, Any]]) -> None:
    step = steps["TrainMoonClassifier"]
    assert step["DisplayName"] == "Train moon classifier"
    assert step["Description"]
    assert step["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P30D"}
