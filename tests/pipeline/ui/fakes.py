"""A fake target for the UI's guard tests (test_security.py): two packages pending approval
kept in memory, so a refused request can be shown to have changed nothing without running
the pipeline. The approve → deploy → invoke loop itself is tested in the browser against a
real LocalTarget on a real store (test_browser.py), with issue 20's registry verbs.
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
    """Just enough of the Target protocol for the pages the guard tests ask for and the
    approval they post."""

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

    def pipeline_parameters(self, pipeline_name: str) -> list[dict[str, Any]]:
        return PARAMETERS

    def list_executions(self, pipeline_name: str) -> list[ExecutionSummary]:
        return []

    def describe_execution(self, ref: str) -> ExecutionSummary:
        raise MoonpipeError(f"no execution {ref}")

    def list_model_packages(self, group: str | None = None) -> list[ModelPackageRef]:
        return list(self.packages)

    def update_model_package(self, package_ref: str, approval_status: str) -> ModelPackageRef:
        if approval_status not in ("Approved", "Rejected", "PendingManualApproval"):
            raise MoonpipeError(f"approval status {approval_status} is not one SageMaker knows")
        for i, p in enumerate(self.packages):
            if p.arn == package_ref:
                self.packages[i] = replace(p, approval_status=approval_status)
                return self.packages[i]
        raise MoonpipeError(f"no model package {package_ref}")

    def list_endpoints(self) -> list[EndpointRef]:
        return []
