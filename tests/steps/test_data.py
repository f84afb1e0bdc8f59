"""PrepareMoonData as it appears in the definition."""

from __future__ import annotations

from typing import Any


def _args_by_flag(container_args: list[Any]) -> dict[str, Any]:
    return dict(zip(container_args[::2], container_args[1::2], strict=True))


def _param(name: str) -> dict[str, Any]:
    return {"Std:Join": {"On": "", "Values": [{"Get": f"Parameters.{name}"}]}}


def test_runs_preprocess_on_the_sklearn_image(steps: dict[str, dict[str, Any]]) -> None:
    step = steps["PrepareMoonData"]
    app = step["Arguments"]["AppSpecification"]
    assert step["Type"] == "Processing"
    assert app["ImageUri"].endswith("/sagemaker-scikit-learn:1.2-1-cpu-py3")
    assert app["ContainerEntrypoint"] == ["python3", "/opt/ml/processing/input/code/preprocess.py"]
    cluster = step["Arguments"]["ProcessingResources"]["ClusterConfig"]
    assert cluster["InstanceType"] == {"Get": "Parameters.ProcessingInstanceType"}


def test_arguments_are_wired_to_parameters_and_container_paths(
    steps: dict[str, dict[str, Any]],
) -> None:
    app = steps["PrepareMoonData"]["Arguments"]["AppSpecification"]
    args = _args_by_flag(app["ContainerArguments"])
    assert args == {
        "--num-points": _param("NumPoints"),
        "--noise": _param("Noise"),
        "--test-size": _param("TestSize"),
        "--seed": _param("DataSeed"),
        "--split-seed": _param("SplitSeed"),
        "--train-dir": "/opt/ml/processing/train",
        "--test-dir": "/opt/ml/processing/test",
        "--failure-file": "/opt/ml/output/message",
    }


def test_outputs_train_and_test(steps: dict[str, dict[str, Any]]) -> None:
    outputs = steps["PrepareMoonData"]["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    assert {o["OutputName"]: o["S3Output"]["LocalPath"] for o in outputs} == {
        "train": "/opt/ml/processing/train",
        "test": "/opt/ml/processing/test",
    }


def test_code_is_uploaded_under_a_content_key(steps: dict[str, dict[str, Any]], built: Any) -> None:
    inputs = steps["PrepareMoonData"]["Arguments"]["ProcessingInputs"]
    (code,) = [i for i in inputs if i["InputName"] == "code"]
    uri = code["S3Input"]["S3Uri"]
    assert uri.startswith("s3://moonpipe-artifacts/moonpipe/moonpipe/code/")
    assert built.artifacts[uri] == b"print('preprocess.py')\n"


def test_display_name_description_and_cache(steps: dict[str, dict[str, Any]]) -> None:
    step = steps["PrepareMoonData"]
    assert step["DisplayName"] == "Prepare moon data"
    assert step["Description"]
    assert step["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P30D"}
