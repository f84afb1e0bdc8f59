"""The local model registry as ListModelPackages/DescribeModelPackage describe it, and the
calls that manage it: UpdateModelPackage (approve, reject) and a package's deployment.

Each package comes with the metrics of its ModelMetrics quality report, the execution that
registered it (the one whose RegisterModel step holds its ARN) and the endpoints serving
its model now (an InService endpoint whose config's model has the package's model data).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pipeline.core.errors import MoonpipeError
from pipeline.core.names import LOCAL_ACCOUNT
from pipeline.core.quality import is_quality_report, quality_metrics, statistics_uri
from pipeline.core.records import ModelPackageRef
from pipeline.local.api_gate import OPERATIONS, request_violations
from pipeline.local.handlers.base import EndpointManager
from pipeline.local.handlers.hosting import endpoint_config_name
from pipeline.local.store.objects import ObjectStore, StoreError
from pipeline.local.store.records import Records
from pipeline.local.store.registry import Registry, RegistryError
from pipeline.local.summary import load_json, parse_time

_EARLIEST = datetime.min


class ServingEndpoint(Protocol):
    """What the endpoint manager lists of an endpoint (pipeline.local.endpoint.manager)."""

    name: str
    config_name: str
    status: str


def model_packages(
    records: Records,
    objects: ObjectStore,
    registry: Registry,
    endpoints: Iterable[ServingEndpoint],
    group: str | None = None,
) -> list[ModelPackageRef]:
    """Registered packages (of one group, or all), newest first."""
    registered_by = _registering_executions(records)
    serving = _served_model_data(registry, endpoints)
    found = []
    for record in registry.model_packages(group):
        data_urls = _model_data_urls(record)
        found.append(
            ModelPackageRef(
                arn=record["ModelPackageArn"],
                group=record["ModelPackageGroupName"],
                version=record.get("ModelPackageVersion"),
                approval_status=record.get("ModelApprovalStatus", "PendingManualApproval"),
                created_at=parse_time(record.get("CreationTime")),
                metrics=_metrics(objects, record),
                model_data_url=data_urls[0] if data_urls else None,
                execution_id=registered_by.get(record["ModelPackageArn"]),
                endpoints=tuple(sorted(n for url in data_urls for n in serving.get(url, ()))),
            )
        )
    found.sort(key=lambda p: (_naive(p.created_at), p.version or 0), reverse=True)
    return found


def _model_data_urls(record: Mapping[str, Any]) -> list[str]:
    containers = (record.get("InferenceSpecification") or {}).get("Containers") or []
    return [c["ModelDataUrl"] for c in containers if isinstance(c.get("ModelDataUrl"), str)]


def _metrics(objects: ObjectStore, record: Mapping[str, Any]) -> dict[str, float]:
    """The scalar metrics of the package's ModelMetrics.ModelQuality statistics."""
    uri = statistics_uri(record)
    report = load_json(objects, uri) if uri is not None else None
    return quality_metrics(report) if is_quality_report(report) else {}


def _registering_executions(records: Records) -> dict[str, str]:
    """Package ARN -> the execution whose RegisterModel step created it."""
    found: dict[str, str] = {}
    for execution_id in records.execution_ids():
        for record, properties in records.steps(execution_id):
            arn = properties.get("ModelPackageArn") if isinstance(properties, Mapping) else None
            reused = record.cache_hit or record.metadata.get("ReusedBySelectionFrom")
            if arn and not reused:
                found.setdefault(str(arn), execution_id)
    return found


def _served_model_data(
    registry: Registry, endpoints: Iterable[ServingEndpoint]
) -> dict[str, list[str]]:
    """Model data URL -> the names of the InService endpoints serving it."""
    serving: dict[str, list[str]] = {}
    for endpoint in endpoints:
        if endpoint.status != "InService":
            continue
        with contextlib.suppress(RegistryError, ValueError, KeyError, IndexError, TypeError):
            config = registry.endpoint_config(endpoint.config_name)
            model = registry.model(config["ProductionVariants"][0]["ModelName"])
            url = (model.get("PrimaryContainer") or {}).get("ModelDataUrl")
            if isinstance(url, str):
                serving.setdefault(url, []).append(endpoint.name)
    return serving


def _naive(moment: datetime | None) -> datetime:
    return _EARLIEST if moment is None else moment.replace(tzinfo=None)


# -- UpdateModelPackage and a package's deployment (the registry CLI) ----------------------

APPROVAL_STATUSES = ("Approved", "Rejected", "PendingManualApproval")
LOCAL_ROLE_ARN = f"arn:aws:iam::{LOCAL_ACCOUNT}:role/moonpipe-local-engine"  # no role is assumed
DEFAULT_INSTANCE = "ml.m5.large"


class PackageError(MoonpipeError):
    """A package that does not exist, or cannot be deployed as asked: nothing was changed."""


def find_package(registry: Registry, arn: str) -> dict[str, Any]:
    """The package version ``arn`` names (with its approval changes applied)."""
    for record in registry.model_packages():
        if record["ModelPackageArn"] == arn.lower():
            return record
    raise PackageError(
        f"no model package {arn} in the local registry; list them with --list-model-packages"
    )


def update_approval(registry: Registry, arn: str, status: str) -> dict[str, Any]:
    """UpdateModelPackage's ModelApprovalStatus, kept beside the version's own record."""
    if status not in APPROVAL_STATUSES:
        raise PackageError(
            f"ModelApprovalStatus {status!r} is not one of {', '.join(APPROVAL_STATUSES)}"
        )
    find_package(registry, arn)
    return registry.update_model_package(arn, {"ModelApprovalStatus": status})


def deploy_package(
    registry: Registry,
    objects: ObjectStore,
    endpoints: EndpointManager,
    store_root: Path,
    arn: str,
    endpoint_name: str,
) -> Any:
    """Serve an Approved package from ``endpoint_name`` as the pipeline's deploy does it: a
    CreateModel, a CreateEndpointConfig and a CreateEndpoint (or an update in place) request,
    each checked against SageMaker's API model before anything is written, then the endpoint
    manager (one deployment of an endpoint at a time: "Cannot update in-progress endpoint").
    Returns the manager's endpoint info."""
    record = find_package(registry, arn)
    label = f"{record['ModelPackageGroupName']}/{record['ModelPackageVersion']}"
    status = record.get("ModelApprovalStatus", "PendingManualApproval")
    if status != "Approved":
        raise PackageError(
            f"model package {label} is {status}; only an Approved package is deployed "
            f"(approve it: python run_pipeline.py --approve {record['ModelPackageVersion']})"
        )
    spec = record.get("InferenceSpecification") or {}
    containers = spec.get("Containers") or [{}]
    container = containers[0]
    token = secrets.token_hex(4)
    group, version = record["ModelPackageGroupName"], record["ModelPackageVersion"]
    model_name = f"{group[:40]}-{version}-{token}"
    config_name = endpoint_config_name(f"{endpoint_name[:40]}-v{version}", token)
    instances = spec.get("SupportedRealtimeInferenceInstanceTypes") or [DEFAULT_INSTANCE]
    primary = {k: container[k] for k in ("Image", "ModelDataUrl", "Environment") if k in container}
    requests = (
        (
            "Model",
            {
                "ModelName": model_name,
                "ExecutionRoleArn": LOCAL_ROLE_ARN,
                "PrimaryContainer": primary,
            },
        ),
        (
            "EndpointConfig",
            {
                "EndpointConfigName": f"{endpoint_name[:40]}-v{version}",
                "ProductionVariants": [
                    {
                        "VariantName": "AllTraffic",
                        "ModelName": model_name,
                        "InitialVariantWeight": 1,
                        "InitialInstanceCount": 1,
                        "InstanceType": instances[0],
                    }
                ],
            },
        ),
        ("Endpoint", {"EndpointName": endpoint_name, "EndpointConfigName": config_name}),
    )
    for step_type, request in requests:
        violations = request_violations(step_type, "deploy", request, token)
        if violations:
            raise PackageError(
                f"SageMaker's {OPERATIONS[step_type]} would refuse deploying {label} to "
                f"{endpoint_name}: {violations[0]}"
            )
    try:
        model_data = objects.path(str(container.get("ModelDataUrl")))
    except StoreError as err:
        raise PackageError(f"model package {label}: {err}") from None
    if not model_data.is_file():
        raise PackageError(f"model package {label}: its model data is not in the local store")
    registry.add_model(model_name, requests[0][1])
    registry.add_endpoint_config(config_name, {**requests[1][1], "EndpointConfigName": config_name})
    return endpoints.deploy(
        store_root, endpoint_name, config_name, model_data, dict(container.get("Environment") or {})
    )
