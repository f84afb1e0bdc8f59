"""The local model registry, models and endpoint configs: records SageMaker never overwrites.

Where each lives is pipeline.local.store.layout's: ``registry/<group>/group.json`` (a model
package group), ``registry/<group>/versions/<n>.json`` (package version n, never rewritten),
``models/<name>.json`` and ``endpoint-configs/<name>.json`` (the Create* requests).

Every record is created exclusively (atomic.create_json), so an existing package, model or
config is never replaced, even by a concurrent writer.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from pipeline.core.names import local_arn, utc_now
from pipeline.local.store.atomic import create_json, read_json
from pipeline.local.store.layout import StoreLayout
from pipeline.local.store.schema import ModelPackageRecord, NamedRecord, read_record


class RegistryError(Exception):
    """A record is missing, or would replace one that exists."""


class Registry:
    """Reads and writes registry records of one store root."""

    def __init__(self, root: Path, region: str) -> None:
        self.root = root
        self.layout = StoreLayout(root)
        self.region = region

    def add_model_package(self, group: str, request: dict[str, Any]) -> dict[str, Any]:
        """Store the next version of ``group`` (creating the group); return its record."""
        folder = self.layout.model_package_group(group)
        group_file = folder / "group.json"
        if not group_file.exists():
            group_arn = local_arn(self.region, "model-package-group", group)
            with contextlib.suppress(FileExistsError):  # a concurrent writer created it
                create_json(
                    group_file,
                    {
                        "ModelPackageGroupName": group,
                        "ModelPackageGroupArn": group_arn,
                        "CreationTime": _now(),
                    },
                )
        while True:
            version = 1 + max((n for n, _ in _versions(folder)), default=0)
            record = {
                **request,
                "ModelPackageGroupName": group,
                "ModelPackageVersion": version,
                "ModelPackageArn": local_arn(self.region, "model-package", f"{group}/{version}"),
                "ModelPackageStatus": "Completed",
                "CreationTime": _now(),
            }
            record.setdefault("ModelApprovalStatus", "PendingManualApproval")
            try:
                create_json(folder / "versions" / f"{version}.json", record)
                return record
            except FileExistsError:
                continue  # another writer took this number; take the next one

    def model_packages(self, group: str | None = None) -> list[dict[str, Any]]:
        """Every stored package version (of ``group``, or of all groups), unordered, each
        with its newest UpdateModelPackage changes applied."""
        folders = (
            [self.layout.model_package_group(group)]
            if group is not None
            else sorted(p for p in self.layout.registry().glob("*") if p.is_dir())
        )
        return [
            self._updated(read_record(path, ModelPackageRecord))
            for f in folders
            for _, path in _versions(f)
        ]

    def update_model_package(self, arn: str, changes: dict[str, Any]) -> dict[str, Any]:
        """UpdateModelPackage: record ``changes`` (ModelApprovalStatus, ...) for the version
        ``arn`` names, as a new record beside it; return the version as it is now."""
        record = next(
            (r for r in self.model_packages() if r["ModelPackageArn"] == arn.lower()), None
        )
        if record is None:
            raise RegistryError(f"model package {arn} does not exist in the local store")
        folder = self.layout.model_package_updates(
            record["ModelPackageGroupName"], record["ModelPackageVersion"]
        )
        while True:
            number = 1 + max((int(p.stem) for p in folder.glob("*.json")), default=0)
            try:
                create_json(folder / f"{number}.json", {**changes, "LastModifiedTime": _now()})
                return {**record, **changes}
            except FileExistsError:
                continue  # another writer took this number; take the next one

    def _updated(self, record: dict[str, Any]) -> dict[str, Any]:
        folder = self.layout.model_package_updates(
            record["ModelPackageGroupName"], record["ModelPackageVersion"]
        )
        updates = (
            sorted(folder.glob("*.json"), key=lambda p: int(p.stem)) if folder.is_dir() else []
        )
        for path in updates:
            record = {**record, **read_json(path)}
        return record

    def add_model(self, name: str, request: dict[str, Any]) -> dict[str, Any]:
        """Store a model; RegistryError if that name exists."""
        record = {
            **request,
            "ModelName": name,
            "ModelArn": local_arn(self.region, "model", name),
            "CreationTime": _now(),
        }
        return self._create(self.layout.model(name), record)

    def model(self, name: str) -> dict[str, Any]:
        """A stored model by name."""
        return self._read(self.layout.model(name), f"model {name}")

    def add_endpoint_config(self, name: str, request: dict[str, Any]) -> dict[str, Any]:
        """Store an endpoint config; RegistryError if that name exists."""
        record = {
            **request,
            "EndpointConfigName": name,
            "EndpointConfigArn": local_arn(self.region, "endpoint-config", name),
            "CreationTime": _now(),
        }
        return self._create(self.layout.endpoint_config(name), record)

    def endpoint_config(self, name: str) -> dict[str, Any]:
        """A stored endpoint config by name."""
        return self._read(self.layout.endpoint_config(name), f"endpoint config {name}")

    @staticmethod
    def _create(path: Path, record: dict[str, Any]) -> dict[str, Any]:
        try:
            create_json(path, record)
        except FileExistsError:
            raise RegistryError(f"{path.stem} already exists; it is never replaced") from None
        return record

    @staticmethod
    def _read(path: Path, what: str) -> dict[str, Any]:
        if not path.is_file():
            raise RegistryError(f"{what} does not exist in the local store")
        return read_record(path, NamedRecord)


def _versions(group_folder: Path) -> list[tuple[int, Path]]:
    """(number, file) of a group's package versions: ``versions/<n>.json`` (anything else
    someone left there is not a version)."""
    found = (group_folder / "versions").glob("*.json")
    return sorted((int(p.stem), p) for p in found if p.stem.isdigit() and p.stem.isascii())


def _now() -> str:
    return utc_now().isoformat()
