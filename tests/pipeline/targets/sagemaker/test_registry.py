"""list_model_packages on SageMaker, against the real moto server (moto stores model package
groups and versions, and answers ListModelPackages and DescribeModelPackage)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipeline.core.records import ModelPackageRef
from pipeline.targets.sagemaker import SageMakerTarget
from pipeline.targets.sagemaker.clients import AwsClients
from tests.moto_aws import client
from tests.pipeline.report.facts import QUALITY
from tests.pipeline.targets.sagemaker.support import BUCKET, PIPE

QUALITY_URI = f"s3://{BUCKET}/out/evaluation/evaluation.json"
SCALARS = {"accuracy": 0.9, "precision": 0.8, "recall": 0.95, "f1": 0.87, "auc": 0.93}


def register(group: str, approval: str, model: str, **extra: Any) -> str:
    """One package version in ``group`` (made if missing), as a RegisterModel step makes it."""
    sm = client("sagemaker")
    groups = sm.list_model_package_groups()["ModelPackageGroupSummaryList"]
    if group not in {g["ModelPackageGroupName"] for g in groups}:
        sm.create_model_package_group(ModelPackageGroupName=group)
    return str(
        sm.create_model_package(
            ModelPackageGroupName=group,
            ModelApprovalStatus=approval,
            InferenceSpecification={
                "Containers": [{"Image": "img", "ModelDataUrl": model}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            **extra,
        )["ModelPackageArn"]
    )


def with_metrics(execution: str) -> dict[str, Any]:
    """What a pipeline's RegisterModel step adds: the quality report and who registered it."""
    return {
        "ModelMetrics": {
            "ModelQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": QUALITY_URI}
            }
        },
        "MetadataProperties": {"GeneratedBy": f"{PIPE}/execution/{execution}"},
    }


def s3_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every S3 GetObject the target sends from now on (the keys)."""
    got: list[str] = []
    real_client = AwsClients.client

    def recording_client(self: AwsClients, service: str) -> Any:
        made = real_client(self, service)
        made.meta.events.register(
            "provide-client-params.s3.GetObject", lambda params, **_: got.append(params["Key"])
        )
        return made

    monkeypatch.setattr(AwsClients, "client", recording_client)
    return got


def test_packages_newest_first_with_approval_metrics_artifact_and_execution(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client("s3").put_object(
        Bucket=BUCKET, Key="out/evaluation/evaluation.json", Body=json.dumps(QUALITY).encode()
    )
    first = register("moonpipe-models", "Approved", "s3://b/m1.tar.gz", **with_metrics("e1"))
    second = register(
        "moonpipe-models", "PendingManualApproval", "s3://b/m2.tar.gz", **with_metrics("e2")
    )
    other = register("other-models", "Rejected", "s3://b/o1.tar.gz")
    got = s3_reads(monkeypatch)
    packages = SageMakerTarget("us-east-1", "moonpipe").list_model_packages()
    assert [p.arn for p in packages] == [other, second, first]
    assert packages[1] == ModelPackageRef(
        arn=second,
        group="moonpipe-models",
        version=2,
        approval_status="PendingManualApproval",
        created_at=packages[1].created_at,
        metrics=SCALARS,
        model_data_url="s3://b/m2.tar.gz",
        execution_id="e2",
    )
    newer, older = packages[1].created_at, packages[2].created_at
    assert newer is not None and older is not None and newer >= older
    assert (packages[2].version, packages[2].approval_status) == (1, "Approved")
    assert (packages[2].execution_id, packages[2].metrics) == ("e1", SCALARS)
    assert (packages[0].group, packages[0].approval_status) == ("other-models", "Rejected")
    assert (packages[0].metrics, packages[0].execution_id) == ({}, None)  # no report: said so
    assert packages[0].endpoints == ()
    assert got == ["out/evaluation/evaluation.json"]  # one read for the two that name it


def test_one_groups_packages_only(aws: dict[str, str]) -> None:
    mine = register("moonpipe-models", "Approved", "s3://b/m1.tar.gz")
    register("other-models", "Approved", "s3://b/o1.tar.gz")
    target = SageMakerTarget("us-east-1", "moonpipe")
    assert [p.arn for p in target.list_model_packages("moonpipe-models")] == [mine]
    assert target.list_model_packages("no-such-group") == []


def test_a_missing_quality_report_leaves_the_metrics_empty(aws: dict[str, str]) -> None:
    """The statistics object was deleted (or never written): no metrics, no error."""
    register("moonpipe-models", "Approved", "s3://b/m1.tar.gz", **with_metrics("e1"))
    [package] = SageMakerTarget("us-east-1", "moonpipe").list_model_packages()
    assert (package.metrics, package.execution_id) == ({}, "e1")


def test_an_empty_registry_lists_nothing(aws: dict[str, str]) -> None:
    assert SageMakerTarget("us-east-1", "moonpipe").list_model_packages() == []
