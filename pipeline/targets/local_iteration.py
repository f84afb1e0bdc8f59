"""The local target's calls for the iteration loop: retry, a selection's graph, and reuse.

A mixin of LocalTarget (as pipeline.targets.sagemaker_iteration is of SageMakerTarget), so
local.py stays the engine's front and the sweep's questions live beside retry's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.core.records import ExecutionSummary
from pipeline.local.graph import PipelineGraph
from pipeline.local.interruptions import settle
from pipeline.local.selection import prepare_retry
from pipeline.local.store.objects import ObjectStore
from pipeline.local.store.records import ExecutionRecord, Records
from pipeline.local.summary import summarize


class LocalIteration:
    """retry_execution, plan and reusable_executions of the local target."""

    records: Records
    objects: ObjectStore

    def _pipeline(self, name: str, version: int | None = None) -> dict[str, Any]: ...

    def _plan(self, definition: str, pipeline_name: str) -> PipelineGraph: ...

    def retry_execution(self, execution_ref: str) -> str:
        """RetryPipelineExecution: the same execution resumes where it failed (in ``wait``)."""
        execution_id = execution_ref.rstrip("/").rsplit("/", 1)[-1]
        data = settle(self.records, execution_id)
        return prepare_retry(self.records, data).execution_arn

    def plan(self, pipeline_name: str) -> PipelineGraph:
        """The newest stored definition, parsed (selective execution reads its graph)."""
        return self._plan(self._pipeline(pipeline_name)["PipelineDefinition"], pipeline_name)

    def reusable_executions(
        self, pipeline_name: str, wanted: Sequence[Mapping[str, Any]]
    ) -> list[ExecutionSummary | None]:
        """For each resolved parameter set, the newest execution that already did exactly it.

        That is: Succeeded, of the pipeline's newest version, not a selective execution (its
        reused steps came from another run), with every parameter value equal.
        """
        version = self._pipeline(pipeline_name)["Version"]
        done = [
            data
            for data in map(self.records.execution, self.records.execution_ids())
            if _complete_run(data, pipeline_name, version)
        ]
        done.sort(key=lambda data: data.started_at or "", reverse=True)
        found: list[ExecutionSummary | None] = []
        for values in wanted:
            match = next((d for d in done if dict(d.parameters) == dict(values)), None)
            found.append(
                None if match is None else summarize(self.records, self.objects, match.execution_id)
            )
        return found


def _complete_run(data: ExecutionRecord, pipeline_name: str, version: int) -> bool:
    """True for a Succeeded, whole (not selective) execution of this pipeline version."""
    return (
        data.pipeline_name == pipeline_name
        and data.pipeline_version == version
        and data.status == "Succeeded"
        and not data.extra.get("selection")
    )
