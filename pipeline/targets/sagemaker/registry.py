"""The model registry on SageMaker: registered model package versions, newest first, and
the calls that manage them (approve or reject, deploy one to an endpoint).

ListModelPackages names the versions (of one group, or of every group); one
DescribeModelPackage each adds what a person chooses a model by: its metrics (the
ModelQuality statistics object on S3, the report the evaluation step wrote), the model
artifact, and the pipeline execution that registered it (MetadataProperties.GeneratedBy).
Which endpoints serve a package is not asked: on SageMaker that is three more calls per
endpoint (endpoint -> config -> model), so ``endpoints`` stays empty here.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from pipeline.core.errors import ConfigError
from pipeline.core.quality import quality_metrics
from pipeline.core.records import EndpointRef, ModelPackageRef
from pipeline.core.refs import execution_id
from pipeline.targets.sagemaker.clients import AwsClients
from pipeline.targets.sagemaker.errors import client_error, is_not_found, translate
from pipeline.targets.sagemaker.quality import quality_document

_EXECUTION = ":pipeline/"  # GeneratedBy of a package a pipeline's RegisterModel step made


APPROVAL_STATUSES = ("Approved", "Rejected", "PendingManualApproval")
DEFAULT_INSTANCE = "ml.m5.large"
# DescribeEndpoint statuses during which SageMaker refuses UpdateEndpoint
_IN_PROGRESS = {"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"}


class ModelRegistry:
    """list_model_packages, update_model_package and deploy_model_package of the Target
    protocol: ListModelPackages/DescribeModelPackage, UpdateModelPackage, and the step the
    MLOps template's deploy project takes (CreateModel, CreateEndpointConfig, then
    CreateEndpoint or UpdateEndpoint)."""

    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    def update(self, arn: str, approval_status: str) -> ModelPackageRef:
        """UpdateModelPackage's ModelApprovalStatus; the package as it is now."""
        if approval_status not in APPROVAL_STATUSES:
            raise ConfigError(
                f"ModelApprovalStatus {approval_status!r} is not one of "
                + ", ".join(APPROVAL_STATUSES)
            )
        with translate(f"update model package {arn}", self._not_found(arn)):
            self._clients.sm.update_model_package(
                ModelPackageArn=arn, ModelApprovalStatus=approval_status
            )
        return self._package({"ModelPackageArn": arn}, {})

    def deploy(self, arn: str, endpoint_name: str, role_arn: str) -> EndpointRef:
        """Serve an Approved package version from ``endpoint_name``: a model and an endpoint
        config of its own, then the endpoint created, or updated if it exists; refused (and
        nothing created) while the endpoint is being created or updated, as SageMaker
        refuses a second update."""
        sm = self._clients.sm
        with translate(f"describe model package {arn}", self._not_found(arn)):
            described = sm.describe_model_package(ModelPackageName=arn)
        label = f"{described.get('ModelPackageGroupName')}/{described.get('ModelPackageVersion')}"
        status = described.get("ModelApprovalStatus") or "PendingManualApproval"
        if status != "Approved":
            raise ConfigError(
                f"model package {label} is {status}; only an Approved package is deployed "
                f"(approve it: --approve {described.get('ModelPackageVersion')})"
            )
        existing = self._endpoint_status(endpoint_name)
        if existing in _IN_PROGRESS:
            raise ConfigError(
                f"Cannot update in-progress endpoint {endpoint_name} (it is {existing}); "
                "wait for it to end, then deploy again"
            )
        spec = described.get("InferenceSpecification") or {}
        container = (spec.get("Containers") or [{}])[0]
        token = secrets.token_hex(4)
        version = described.get("ModelPackageVersion")
        model_name = f"{str(described.get('ModelPackageGroupName'))[:40]}-{version}-{token}"
        config_name = f"{endpoint_name[:40]}-v{version}-{token}"
        primary = {
            k: container[k] for k in ("Image", "ModelDataUrl", "Environment") if k in container
        }
        instance = (spec.get("SupportedRealtimeInferenceInstanceTypes") or [DEFAULT_INSTANCE])[0]
        with translate(f"deploy model package {label} to endpoint {endpoint_name}"):
            sm.create_model(
                ModelName=model_name, PrimaryContainer=primary, ExecutionRoleArn=role_arn
            )
            sm.create_endpoint_config(
                EndpointConfigName=config_name,
                ProductionVariants=[
                    {
                        "VariantName": "AllTraffic",
                        "ModelName": model_name,
                        "InitialVariantWeight": 1,
                        "InitialInstanceCount": 1,
                        "InstanceType": instance,
                    }
                ],
            )
            if existing is None:
                sm.create_endpoint(EndpointName=endpoint_name, EndpointConfigName=config_name)
            else:
                sm.update_endpoint(EndpointName=endpoint_name, EndpointConfigName=config_name)
        return EndpointRef(endpoint_name, None, self._endpoint_status(endpoint_name))

    def _endpoint_status(self, name: str) -> str | None:
        """DescribeEndpoint's EndpointStatus; None when there is no such endpoint."""
        try:
            return str(self._clients.sm.describe_endpoint(EndpointName=name)["EndpointStatus"])
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if is_not_found(str(error.get("Code", "")), str(error.get("Message", ""))):
                return None
            raise client_error(exc, f"describe endpoint {name}") from None

    def _not_found(self, arn: str) -> ConfigError:
        return ConfigError(
            f"no model package {arn} in {self._clients.region}; list them with "
            "--list-model-packages"
        )

    def list_model_packages(self, group: str | None = None) -> list[ModelPackageRef]:
        """Registered (versioned) model packages of ``group``, or of every group; newest
        first. A quality report read for one version serves every version that names it."""
        where = f"group {group}" if group else "every group"
        request: dict[str, Any] = {
            "ModelPackageType": "Versioned",  # the API's default lists unversioned ones only
            "SortBy": "CreationTime",
            "SortOrder": "Descending",
        }
        if group:
            request["ModelPackageGroupName"] = group
        with translate(f"list the model packages of {where}"):
            pages = self._clients.sm.get_paginator("list_model_packages").paginate(**request)
            rows = [row for page in pages for row in page["ModelPackageSummaryList"]]
        metrics: dict[str, dict[str, float]] = {}
        return [self._package(row, metrics) for row in rows]

    def _package(
        self, row: Mapping[str, Any], metrics: dict[str, dict[str, float]]
    ) -> ModelPackageRef:
        arn = str(row["ModelPackageArn"])
        with translate(f"describe model package {arn}"):
            described = self._clients.sm.describe_model_package(ModelPackageName=arn)
        uri = _statistics_uri(described)
        if uri is not None and uri not in metrics:
            metrics[uri] = quality_metrics(quality_document(self._clients.s3, uri))
        containers = (described.get("InferenceSpecification") or {}).get("Containers") or []
        generated_by = str((described.get("MetadataProperties") or {}).get("GeneratedBy") or "")
        return ModelPackageRef(
            arn=arn,
            group=str(
                described.get("ModelPackageGroupName") or row.get("ModelPackageGroupName") or ""
            ),
            version=described.get("ModelPackageVersion", row.get("ModelPackageVersion")),
            approval_status=str(
                described.get("ModelApprovalStatus") or row.get("ModelApprovalStatus") or ""
            ),
            created_at=described.get("CreationTime") or row.get("CreationTime"),
            metrics=metrics.get(uri, {}) if uri is not None else {},
            model_data_url=next(
                (str(c["ModelDataUrl"]) for c in containers if c.get("ModelDataUrl")), None
            ),
            execution_id=execution_id(generated_by) if _EXECUTION in generated_by else None,
        )


def _statistics_uri(described: Mapping[str, Any]) -> str | None:
    """Where the package's ModelQuality statistics (our evaluation report) are."""
    quality = (described.get("ModelMetrics") or {}).get("ModelQuality") or {}
    uri = (quality.get("Statistics") or {}).get("S3Uri")
    return str(uri) if uri else None
