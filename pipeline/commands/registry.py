"""--list-model-packages, --approve, --reject, --deploy-model-package: the model registry.

What the MLOps template's people do in Studio's registry: list the versions a pipeline
registered (group, version, approval, metrics, which endpoint serves it), approve or reject
one (UpdateModelPackage), and deploy a chosen version to an endpoint (the template's deploy
project), under the rules the pipeline's own deploy follows. A package is named by its
version number (in the config's ``registry.model_package_group``) or by its ARN.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.commands.base import Command
from pipeline.commands.front import Front
from pipeline.core.errors import ConfigError
from pipeline.core.records import ModelPackageRef
from pipeline.targets.base import Target

_VERSION = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class ListModelPackages:
    """--list-model-packages [GROUP]."""

    group: str | None = None  # None: every group


@dataclass(frozen=True)
class UpdateModelPackage:
    """--approve REF or --reject REF (a version number or an ARN)."""

    package: str
    approval_status: str  # Approved | Rejected


@dataclass(frozen=True)
class DeployModelPackage:
    """--deploy-model-package REF [--endpoint-name NAME]."""

    package: str
    endpoint: str | None = None  # None: the config's endpoint.name


def list_model_packages(request: ListModelPackages, front: Front) -> int:
    """The registered versions, newest first."""
    front.console.model_packages(front.target().list_model_packages(request.group))
    return 0


def update_model_package(request: UpdateModelPackage, front: Front) -> int:
    """Approve or reject one version; show it as it is now."""
    target = front.target()
    arn = package_arn(target, front.config().registry.model_package_group, request.package)
    front.console.package_updated(target.update_model_package(arn, request.approval_status))
    return 0


def deploy_model_package(request: DeployModelPackage, front: Front) -> int:
    """Serve an Approved version from the endpoint (created, or updated in place)."""
    cfg, target = front.config(), front.target()
    arn = package_arn(target, cfg.registry.model_package_group, request.package)
    endpoint = target.deploy_model_package(arn, request.endpoint or cfg.endpoint.name)
    front.console.package_deployed(named_by(arn), endpoint)
    return 0


def package_arn(target: Target, group: str, ref: str) -> str:
    """The ARN ``ref`` names: an ARN as given, a version number in ``group``."""
    if ref.startswith("arn:"):
        return ref
    if not _VERSION.fullmatch(ref):
        raise ConfigError(
            f"model package {ref!r}: give a version number (e.g. 3) or a model package ARN; "
            "list them with --list-model-packages"
        )
    packages = target.list_model_packages(group)
    match = next((p for p in packages if p.version == int(ref)), None)
    if match is None:
        have = ", ".join(str(p.version) for p in sorted(packages, key=lambda p: p.version or 0))
        raise ConfigError(
            f"model package group {group} has no version {ref}"
            + (f"; its versions: {have}" if have else "; it has no versions yet")
        )
    return match.arn


def named_by(arn: str) -> ModelPackageRef:
    """The group and version a package ARN names (``.../model-package/<group>/<version>``);
    a deployed package is Approved (nothing else is deployed)."""
    group, _, version = arn.rpartition(":model-package/")[2].partition("/")
    number = int(version) if _VERSION.fullmatch(version) else None
    return ModelPackageRef(arn=arn, group=group, version=number, approval_status="Approved")


COMMANDS = (
    Command(ListModelPackages, list_model_packages, "--list-model-packages [GROUP]"),
    Command(UpdateModelPackage, update_model_package, "--approve REF | --reject REF"),
    Command(
        DeployModelPackage,
        deploy_model_package,
        "--deploy-model-package REF [--endpoint-name NAME]",
    ),
)
