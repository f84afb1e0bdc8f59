"""list_model_packages on SageMaker, against the real moto server (moto stores model package
groups and versions, and answers ListModelPackages and DescribeModelPackage)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from pipeline.core.errors import ConfigError
from pipeline.core.records import ModelPackageRef
from pipeline.targets.sagemaker import SageMakerTarget
from pipeline.targets.sagemaker.clients import AwsClients
from tests.moto_aws import client
from tests.pipeline.report.facts import QUALITY
from tests.pipeline.targets.sagemaker.support import BUCKET, PIPE, SAGEMAKER, T0, cli

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


# -- issue 20: approve, reject and deploy a package version (against the moto server) -------

ROLE_ARN = "arn:aws:iam::123456789012:role/Test"


def with_pipeline() -> None:
    """The pipeline whose role a deployed model runs as (its own deploy steps use it)."""
    client("sagemaker").create_pipeline(
        PipelineName="moonpipe", RoleArn=ROLE_ARN, PipelineDefinition=json.dumps({"Steps": []})
    )


def test_approve_and_reject_send_update_model_package(aws: dict[str, str]) -> None:
    arn = register("moonpipe-models", "PendingManualApproval", "s3://b/m1.tar.gz")
    target = SageMakerTarget("us-east-1", "moonpipe")
    approved = target.update_model_package(arn, "Approved")
    assert (approved.arn, approved.approval_status, approved.version) == (arn, "Approved", 1)
    described = client("sagemaker").describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "Approved"
    assert target.update_model_package(arn, "Rejected").approval_status == "Rejected"


def test_deploy_creates_the_model_config_and_endpoint(aws: dict[str, str]) -> None:
    with_pipeline()
    first = register("moonpipe-models", "Approved", "s3://b/m1.tar.gz")
    target = SageMakerTarget("us-east-1", "moonpipe")
    endpoint = target.deploy_model_package(first, "moon-ep")
    assert (endpoint.name, endpoint.status) == ("moon-ep", "InService")
    sm = client("sagemaker")
    config = sm.describe_endpoint(EndpointName="moon-ep")["EndpointConfigName"]
    assert config.startswith("moon-ep-v1-")
    [variant] = sm.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"]
    model = sm.describe_model(ModelName=variant["ModelName"])
    assert model["PrimaryContainer"]["ModelDataUrl"] == "s3://b/m1.tar.gz"
    assert model["ExecutionRoleArn"] == ROLE_ARN
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.m5.large", 1)


def _described_package(sm: Stubber, arn: str, status: str = "Approved") -> None:
    sm.add_response(
        "describe_model_package",
        {
            "ModelPackageName": "moonpipe-models",
            "ModelPackageArn": arn,
            "ModelPackageGroupName": "moonpipe-models",
            "ModelPackageVersion": 3,
            "ModelApprovalStatus": status,
            "CreationTime": T0,
            "ModelPackageStatus": "Completed",
            "ModelPackageStatusDetails": {"ValidationStatuses": []},
            "InferenceSpecification": {
                "Containers": [{"Image": "img", "ModelDataUrl": "s3://b/m3.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        },
        {"ModelPackageName": arn},
    )


def _endpoint(sm: Stubber, status: str) -> None:
    sm.add_response(
        "describe_endpoint",
        {
            "EndpointName": "moon-ep",
            "EndpointArn": "arn:aws:sagemaker:us-east-1:1:endpoint/moon-ep",
            "EndpointConfigName": "old",
            "EndpointStatus": status,
            "CreationTime": T0,
            "LastModifiedTime": T0,
        },
        {"EndpointName": "moon-ep"},
    )


def test_deploy_to_an_existing_endpoint_sends_update_endpoint(target: SageMakerTarget) -> None:
    """moto 5.2.5 has no UpdateEndpoint (HTTP 500), so the update is a Stubber's."""
    arn = "arn:aws:sagemaker:us-east-1:1:model-package/moonpipe-models/3"
    any_name = ANY
    with Stubber(target.clients.sm) as sm:
        _described_package(sm, arn)
        _endpoint(sm, "InService")
        sm.add_response("create_model", {"ModelArn": "arn:aws:sagemaker:us-east-1:1:model/m"}, None)
        sm.add_response(
            "create_endpoint_config",
            {"EndpointConfigArn": "arn:aws:sagemaker:us-east-1:1:endpoint-config/c"},
            None,
        )
        sm.add_response(
            "update_endpoint",
            {"EndpointArn": "arn:aws:sagemaker:us-east-1:1:endpoint/moon-ep"},
            {"EndpointName": "moon-ep", "EndpointConfigName": any_name},
        )
        _endpoint(sm, "Updating")
        endpoint = target.registry.deploy(arn, "moon-ep", ROLE_ARN)
        sm.assert_no_pending_responses()
    assert (endpoint.name, endpoint.status) == ("moon-ep", "Updating")


def test_only_an_approved_package_is_deployed(aws: dict[str, str]) -> None:
    with_pipeline()
    arn = register("moonpipe-models", "PendingManualApproval", "s3://b/m1.tar.gz")
    with pytest.raises(ConfigError) as caught:
        SageMakerTarget("us-east-1", "moonpipe").deploy_model_package(arn, "moon-ep")
    assert str(caught.value) == (
        "model package moonpipe-models/1 is PendingManualApproval; only an Approved package "
        "is deployed (approve it: --approve 1)"
    )
    assert client("sagemaker").list_models()["Models"] == []  # nothing was created


def test_an_endpoint_being_updated_is_not_updated_again(target: SageMakerTarget) -> None:
    """moto's endpoints are InService at once, so the in-progress case is a Stubber's."""
    arn = "arn:aws:sagemaker:us-east-1:1:model-package/moonpipe-models/3"
    with Stubber(target.clients.sm) as sm:
        _described_package(sm, arn)
        _endpoint(sm, "Updating")
        with pytest.raises(ConfigError) as caught:
            target.registry.deploy(arn, "moon-ep", ROLE_ARN)
        sm.assert_no_pending_responses()  # and no CreateModel was sent
    assert str(caught.value) == (
        "Cannot update in-progress endpoint moon-ep (it is Updating); wait for it to end, "
        "then deploy again"
    )


def test_the_registry_cli_lists_approves_and_deploys_on_sagemaker(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """--list-model-packages, --reject/--approve by version number, --deploy-model-package
    with --endpoint-name, each with --json, through run_pipeline.main on the moto server."""
    with_pipeline()
    register("moonpipe-models", "PendingManualApproval", "s3://b/m1.tar.gz")
    code, out, err = cli([*SAGEMAKER, "--list-model-packages", "--json"], capsys)
    assert code == 0, err
    listed = json.loads(out)
    assert listed["store"] is None
    assert [(p["version"], p["approval_status"]) for p in listed["model_packages"]] == [
        (1, "PendingManualApproval")
    ]
    code, out, err = cli([*SAGEMAKER, "--deploy-model-package", "1"], capsys)
    assert (code, out) == (2, "") and "is PendingManualApproval" in err
    code, out, err = cli([*SAGEMAKER, "--approve", "1"], capsys)
    assert code == 0, err
    assert out.startswith("model package moonpipe-models/1 is now Approved: arn:aws:sagemaker:")
    flags = ["--deploy-model-package", "1", "--endpoint-name", "moon-ep", "--json"]
    code, out, err = cli([*SAGEMAKER, *flags], capsys)
    assert code == 0, err
    deployed = json.loads(out)
    assert deployed["endpoint"]["name"] == "moon-ep"
    assert (deployed["model_package"]["group"], deployed["model_package"]["version"]) == (
        "moonpipe-models",
        1,
    )
    code, out, err = cli([*SAGEMAKER, "--reject", "7"], capsys)
    assert (code, err) == (
        2,
        "error: model package group moonpipe-models has no version 7; its versions: 1\n",
    )
