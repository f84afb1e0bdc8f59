"""EvaluateMoonClassifier as it appears in the definition."""

from __future__ import annotations

from typing import Any


def test_runs_evaluate_with_python3_on_the_pytorch_image(steps: dict[str, dict[str, Any]]) -> None:
    step = steps["EvaluateMoonClassifier"]
    app = step["Arguments"]["AppSpecification"]
    assert step["Type"] == "Processing"
    assert app["ImageUri"].endswith("/pytorch-training:2.6.0-cpu-py312")
    assert app["ContainerEntrypoint"] == ["python3", "/opt/ml/processing/input/code/evaluate.py"]
    assert app["ContainerArguments"] == [
        "--model-path", "/opt/ml/processing/model/model.tar.gz",
        "--test-path", "/opt/ml/processing/test/test.csv",
        "--output-dir", "/opt/ml/processing/evaluation",
        "--failure-file", "/opt/ml/output/message",
    ]  # fmt: skip


def test_inputs_are_the_model_artifact_and_the_test_split(steps: dict[str, dict[str, Any]]) -> None:
    inputs = steps["EvaluateMoonClassifier"]["Arguments"]["ProcessingInputs"]
    by_path = {i["S3Input"]["LocalPath"]: i["S3Input"]["S3Uri"] for i in inputs}
    assert by_path["/opt/ml/processing/model"] == {
        "Get": "Steps.TrainMoonClassifier.ModelArtifacts.S3ModelArtifacts"
    }
    assert by_path["/opt/ml/processing/test"] == {
        "Get": "Steps.PrepareMoonData.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"
    }


def test_output_and_property_file(steps: dict[str, dict[str, Any]]) -> None:
    step = steps["EvaluateMoonClassifier"]
    (output,) = step["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    assert output["OutputName"] == "evaluation"
    assert output["S3Output"]["LocalPath"] == "/opt/ml/processing/evaluation"
    assert step["PropertyFiles"] == [
        {
            "PropertyFileName": "EvaluationReport",
            "OutputName": "evaluation",
            "FilePath": "evaluation.json",
        }
    ]


def test_display_name_description_and_cache(steps: dict[str, dict[str, Any]]) -> None:
    step = steps["EvaluateMoonClassifier"]
    assert step["DisplayName"] == "Evaluate moon classifier"
    assert step["Description"]
    assert step["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P30D"}
