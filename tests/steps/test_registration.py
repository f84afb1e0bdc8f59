"""RegisterMoonModel and CreateMoonModel as they appear in the definition."""

from __future__ import annotations

from typing import Any

ARTIFACT = {"Get": "Steps.TrainMoonClassifier.ModelArtifacts.S3ModelArtifacts"}
SERVING_ENV = {
    "SAGEMAKER_PROGRAM": "inference.py",
    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
}
TYPES = ["text/csv", "application/json", "application/x-npy"]


def test_no_repack_step(steps: dict[str, dict[str, Any]]) -> None:
    assert not [n for n in steps if "Repack" in n]
    assert [s["Type"] for s in steps.values()].count("Training") == 1


def test_registered_package(steps: dict[str, dict[str, Any]]) -> None:
    args = steps["RegisterMoonModel-RegisterModel"]["Arguments"]
    assert args["ModelPackageGroupName"] == "moonpipe-models"
    assert args["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    spec = args["InferenceSpecification"]
    (container,) = spec["Containers"]
    assert container["Image"].endswith("/pytorch-inference:2.6.0-cpu-py312")
    assert container["ModelDataUrl"] == ARTIFACT
    assert container["Environment"] == SERVING_ENV
    assert spec["SupportedContentTypes"] == TYPES
    assert spec["SupportedResponseMIMETypes"] == TYPES
    assert spec["SupportedRealtimeInferenceInstanceTypes"] == ["ml.m5.large"]


def test_model_quality_is_the_evaluation_report(steps: dict[str, dict[str, Any]]) -> None:
    metrics = steps["RegisterMoonModel-RegisterModel"]["Arguments"]["ModelMetrics"]
    evaluation_uri = {
        "Get": "Steps.EvaluateMoonClassifier.ProcessingOutputConfig.Outputs['evaluation']"
        ".S3Output.S3Uri"
    }
    assert metrics["ModelQuality"]["Statistics"] == {
        "ContentType": "application/json",
        "S3Uri": {"Std:Join": {"On": "/", "Values": [evaluation_uri, "evaluation.json"]}},
    }


def test_model_is_created_after_registration(steps: dict[str, dict[str, Any]]) -> None:
    step = steps["CreateMoonModel-CreateModel"]
    container = step["Arguments"]["PrimaryContainer"]
    assert step["DependsOn"] == ["RegisterMoonModel-RegisterModel"]
    assert container["ModelDataUrl"] == ARTIFACT
    assert container["Environment"] == SERVING_ENV
    assert container["Image"].endswith("/pytorch-inference:2.6.0-cpu-py312")


def test_display_names(steps: dict[str, dict[str, Any]]) -> None:
    assert steps["RegisterMoonModel-RegisterModel"]["DisplayName"] == "Register moon model"
    assert steps["CreateMoonModel-CreateModel"]["DisplayName"] == "Create moon model"
    assert steps["RegisterMoonModel-RegisterModel"]["Description"]
    assert steps["CreateMoonModel-CreateModel"]["Description"]
