"""A SageMaker-like target for the sweep's tests, and the parameters its pipeline declares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pipeline.core.errors import MoonpipeError
from pipeline.core.records import ExecutionFacts, ExecutionSummary, Selection
from tests.pipeline.report.facts import facts, upstream_steps

DECLARED = [
    {"Name": "HiddenDim", "Type": "Integer", "DefaultValue": 20},
    {"Name": "LearningRate", "Type": "Float", "DefaultValue": 0.05},
    {"Name": "ModelApprovalStatus", "Type": "String", "DefaultValue": "Approved"},
    {"Name": "Deploy", "Type": "Boolean", "DefaultValue": True},
]


class ServiceRun:
    """The service runs the point: no process of ours to poll or wait for."""

    def exited(self) -> bool | None:
        return None

    def wait(self) -> None:
        return None


class FakeService:
    """A SageMaker-like target: each describe moves an execution one status on."""

    name = "sagemaker"
    default_parallel = 4

    def __init__(self, fail: set[str] = frozenset(), refuse: set[str] = frozenset()) -> None:
        self.fail, self.refuse = fail, refuse
        self.started: list[tuple[dict[str, Any], str | None]] = []
        self.polls: dict[str, int] = {}
        self.stopped: list[str] = []
        self.launched: list[str] = []
        self.max_running = 0
        self.notes: list[str] = []

    def start_execution(
        self,
        name: str,
        parameters: Mapping[str, Any],
        display_name: str | None = None,
        selection: Selection | None = None,
    ) -> str:
        if parameters["HiddenDim"] in self.refuse:
            raise MoonpipeError("ResourceLimitExceeded: too many executions")
        self.started.append((dict(parameters), display_name))
        arn = f"arn:pipe/execution/x{len(self.started)}"
        self.polls[arn] = 0
        return arn

    def point_runs(self) -> FakeService:
        return self

    def launch(self, execution_arn: str) -> ServiceRun:
        self.launched.append(execution_arn)
        return ServiceRun()

    def describe_execution(self, arn: str) -> ExecutionSummary:
        self.polls[arn] += 1
        running = sum(1 for a, n in self.polls.items() if 0 < n < 3 and a not in self.stopped)
        self.max_running = max(self.max_running, running)
        hidden = self.started[int(arn.rsplit("x", 1)[1]) - 1][0]["HiddenDim"]
        status = "Executing" if self.polls[arn] < 3 else "Succeeded"
        if status == "Succeeded" and hidden in self.fail:
            return ExecutionSummary("p", arn, arn[-2:], "Failed", failure_reason="job died")
        if arn in self.stopped:
            status = "Stopped"
        metrics = {"accuracy": 0.9 + int(hidden) / 1000} if status == "Succeeded" else {}
        return ExecutionSummary("p", arn, arn[-2:], status, metrics=metrics)

    def stop_execution(self, arn: str) -> ExecutionSummary:
        self.stopped.append(arn)
        return self.describe_execution(arn)

    def execution_facts(self, execution_ref: str) -> ExecutionFacts:
        return replace(facts(upstream_steps()), execution_id=execution_ref)

    def comparison_path(self, execution_ids: Sequence[str]) -> Path:
        return Path("/cmp") / "-vs-".join(execution_ids)

    def draw_pages_later(
        self, execution_ids: Sequence[str], comparison: Path | None, pages: Sequence[str]
    ) -> None:
        self.notes.append(f"pages of {list(pages)}, comparison {comparison}")
