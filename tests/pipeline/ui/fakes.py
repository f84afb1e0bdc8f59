"""A fake target for the UI's registry and security tests.

Issue 20 brings the real registry verbs (update_model_package, deploy_model_package); until
then the approve → deploy → invoke loop is tested against this fake, which keeps packages
and endpoints in memory the way the local registry does.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from pipeline.core.errors import MoonpipeError
from pipeline.core.records import EndpointRef, ExecutionSummary, ModelPackageRef

T0 = datetime(2026, 12, 1, tzinfo=timezone.utc)
PARAMETERS = [
    {"Name": "HiddenDim", "Type": "Integer", "DefaultValue": 20},
    {"Name": "Deploy", "Type": "Boolean", "DefaultValue": True},
]


class FakeRegistryTarget:
    """Just enough of the Target protocol for the registry page and the guard."""

    name = "fake"
    default_parallel = 1

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.packages = [
            ModelPackageRef(
                f"arn:aws:sagemaker:us-east-1:0:model-package/moons/{v}",
                "moons",
                v,
                "PendingManualApproval",
                T0,
                {"accuracy": 0.9 + v / 100},
                execution_id=f"exec{v}",
            )
            for v in (2, 1)
        ]
        self.endpoints: dict[str, str] = {}  # endpoint → package ARN
        self.invoked: list[bytes] = []

    def pipeline_parameters(self, pipeline_name: str) -> list[dict[str, Any]]:
        return PARAMETERS

    def list_executions(self, pipeline_name: str) -> list[ExecutionSummary]:
        return []

    def describe_execution(self, ref: str) -> ExecutionSummary:
        raise MoonpipeError(f"no execution {ref}")

    def list_model_packages(self, group: str | None = None) -> list[ModelPackageRef]:
        return [
            replace(p, endpoints=tuple(e for e, a in self.endpoints.items() if a == p.arn))
            for p in self.packages
        ]

    def update_model_package(self, package_ref: str, approval_status: str) -> ModelPackageRef:
        if approval_status not in ("Approved", "Rejected", "PendingManualApproval"):
            raise MoonpipeError(f"approval status {approval_status} is not one SageMaker knows")
        for i, p in enumerate(self.packages):
            if p.arn == package_ref:
                self.packages[i] = replace(p, approval_status=approval_status)
                return self.packages[i]
        raise MoonpipeError(f"no model package {package_ref}")

    def deploy_model_package(self, package_ref: str, endpoint_name: str) -> EndpointRef:
        package = next(p for p in self.packages if p.arn == package_ref)
        if package.approval_status != "Approved":
            raise MoonpipeError(f"version {package.version} is not Approved: approve it first")
        self.endpoints[endpoint_name] = package_ref
        return EndpointRef(endpoint_name, "http://127.0.0.1:1", "InService")

    def list_endpoints(self) -> list[EndpointRef]:
        return [EndpointRef(n, "http://127.0.0.1:1", "InService") for n in self.endpoints]

    def invoke_endpoint(self, name: str, body: bytes, content_type: str, accept: str) -> bytes:
        self.invoked.append(body)
        return b"\n".join(b"1" for line in body.splitlines() if line.strip())
