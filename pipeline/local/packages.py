"""The local model registry as ListModelPackages/DescribeModelPackage describe it.

Each package comes with the metrics of its ModelMetrics quality report, the execution that
registered it (the one whose RegisterModel step holds its ARN) and the endpoints serving
its model now (an InService endpoint whose config's model has the package's model data).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

from pipeline.core.quality import is_quality_report, quality_metrics, statistics_uri
from pipeline.core.records import ModelPackageRef
from pipeline.local.store.objects import ObjectStore
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
