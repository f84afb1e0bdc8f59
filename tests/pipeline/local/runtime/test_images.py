"""Reading an image URI's framework and Python from the SDK's image_uri_config."""

from __future__ import annotations

import sys

from pipeline.local.runtime.images import ImageVersions, differences, image_versions


def test_pytorch_training_image() -> None:
    uri = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.6.0-cpu-py312"
    assert image_versions(uri) == ImageVersions("pytorch", "training", "2.6.0", "2.6.0", "3.12")


def test_alias_and_two_digit_python() -> None:
    uri = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:1.13-cpu-py39"
    found = image_versions(uri)
    assert found is not None and (found.library_version, found.python) == ("1.13.1", "3.9")


def test_sklearn_py3_tag_uses_the_dockerfile_python() -> None:
    uri = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    assert image_versions(uri) == ImageVersions("sklearn", "training", "1.2-1", "1.2", "3.9")


def test_unknown_image_says_nothing() -> None:
    assert image_versions("123.dkr.ecr.us-east-1.amazonaws.com/mine:latest") is None
    assert image_versions("not a uri") is None


def test_differences_by_major_or_minor() -> None:
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    same = ImageVersions("sklearn", "training", "1.2-1", "1.2", here)
    assert not any(line.startswith("Python") for line in differences(same))
    other = ImageVersions("pytorch", "training", "2.6.0", "2.6.0", "3.9")
    assert f"Python {here} here, 3.9 in the image" in differences(other)
