"""What SageMaker's API would refuse never runs locally: the real definition, fresh processes.

Each value below ran to Succeeded locally and registered an Approved package before the API
gate existed, although SageMaker refuses the request it makes. Now ``--start`` exits 2 with
one line naming the parameter, the step and the field, and nothing is started or registered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_runner import run_local_cli as cli
from tests.cli_runner import upserted_store

pytestmark = pytest.mark.e2e

LONG_NAME = "e" * 60


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    # had a refused value run after all, its endpoint must not outlive the test
    with upserted_store(tmp_path_factory.mktemp("gate") / "store") as root:
        yield root


@pytest.mark.parametrize(
    ("param", "starts", "ends"),
    [
        (
            "TrainingInstanceType=ml.m5.larg",
            "error: --param TrainingInstanceType=ml.m5.larg: step TrainMoonClassifier, "
            "ResourceConfig.InstanceType: 'ml.m5.larg' is not one of ml.m5.large, ",
            " values) (SageMaker's CreateTrainingJob)",
        ),
        (
            "ProcessingInstanceType=ml.p4d.24xlarge",
            "error: --param ProcessingInstanceType=ml.p4d.24xlarge: step PrepareMoonData, "
            "ProcessingResources.ClusterConfig.InstanceType: 'ml.p4d.24xlarge' is not one of ",
            " values) (SageMaker's CreateProcessingJob)",
        ),
        (
            "EndpointInstanceType=ml.t3.medium",
            "error: --param EndpointInstanceType=ml.t3.medium: step MoonEndpointConfig, "
            "ProductionVariants[0].InstanceType: 'ml.t3.medium' is not one of ",
            " values) (SageMaker's CreateEndpointConfig)",
        ),
        (
            "ModelApprovalStatus=approved",
            "error: --param ModelApprovalStatus=approved: step RegisterMoonModel-RegisterModel, "
            "ModelApprovalStatus: 'approved' is not one of Approved, Rejected, "
            "PendingManualApproval (SageMaker's CreateModelPackage)",
            "",
        ),
        (
            f"EndpointName={LONG_NAME}",
            f"error: --param EndpointName={LONG_NAME}: step MoonEndpointConfig, "
            f"EndpointConfigName: '{LONG_NAME}-config-",
            "' is 80 characters; at most 63 allowed (SageMaker's CreateEndpointConfig)",
        ),
        (
            "EndpointName=moon_endpoint",
            "error: --param EndpointName=moon_endpoint: step MoonEndpointConfig, "
            "EndpointConfigName: 'moon_endpoint-config-",
            "' does not match the pattern [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62} "
            "(SageMaker's CreateEndpointConfig)",
        ),
        (
            "HiddenDim=1_0",
            "error: parameter HiddenDim is Integer; '1_0' is not a valid integer value "
            "(expected digits with an optional sign, e.g. 40 or -3)",
            "",
        ),
        (
            "LearningRate=nan",
            "error: parameter LearningRate is Float; 'nan' is not a valid float value "
            "(expected a finite decimal number, e.g. 0.05, 5e-2 or 3)",
            "",
        ),
    ],
)
def test_start_refuses_what_sagemaker_refuses_with_nothing_started_or_registered(
    store: Path, param: str, starts: str, ends: str
) -> None:
    done = cli(store, "--start", "--wait", "--param", param)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith(starts) and line.endswith(ends), line
    assert not (store / "executions").exists() or not any((store / "executions").iterdir())
    assert not (store / "registry").exists()
    assert json.loads(cli(store, "--list-executions", "--json").stdout)["executions"] == []


def test_upsert_with_a_start_sagemaker_would_refuse_stores_nothing(tmp_path: Path) -> None:
    """--upsert --start gates the start before the upsert: no version, no object, no execution."""
    store = tmp_path / "store"
    done = cli(store, "--upsert", "--start", "--param", "EndpointInstanceType=ml.t3.medium")
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(
        "error: --param EndpointInstanceType=ml.t3.medium: step MoonEndpointConfig, "
    )
    assert done.stderr.count("\n") == 1 and done.stdout == ""
    assert not (store / "pipelines").exists()
    assert not (store / "s3").exists() and not (store / "executions").exists()
