"""The model registry on SageMaker: registered model package versions, newest first.

ListModelPackages names the versions (of one group, or of every group); one
DescribeModelPackage each adds what a person chooses a model by: its metrics (the
ModelQuality statistics object on S3, the report the evaluation step wrote), the model
artifact, and the pipeline execution that registered it (MetadataProperties.GeneratedBy).
Which endpoints serve a package is not asked: on SageMaker that is three more calls per
endpoint (endpoint -> config -> model), so ``endpoints`` stays empty here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.core.quality import quality_metrics
from pipeline.core.records import ModelPackageRef
from pipeline.core.refs import execution_id
from pipeline.targets.sagemaker.clients import AwsClients
from pipeline.targets.sagemaker.errors import translate
from pipeline.targets.sagemaker.quality import quality_document

_EXECUTION = ":pipeline/"  # GeneratedBy of a package a pipeline's RegisterModel step made


class ModelRegistry:
    """list_model_packages of the Target protocol."""

    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

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
