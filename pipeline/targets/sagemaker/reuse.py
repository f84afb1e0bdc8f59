"""Which sweep points SageMaker already ran: the executions a sweep can reuse.

An execution is reused for a resolved parameter set when it Succeeded, sent exactly those
values (over the definition's defaults), ran the pipeline's current definition and was not
a selective run. The loop itself is the sweep's; this answers its one question.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.core.errors import ParameterError
from pipeline.core.parameters import resolve_parameters
from pipeline.core.records import ExecutionSummary
from pipeline.core.status import Status
from pipeline.targets.sagemaker.clients import AwsClients
from pipeline.targets.sagemaker.errors import translate
from pipeline.targets.sagemaker.executions import Executions
from pipeline.targets.sagemaker.pipelines import Pipelines

# Succeeded executions a sweep looks through, newest first, for points it can reuse: each
# costs a ListPipelineParametersForExecution call (a match two more).
MAX_REUSE_SCAN = 50


class Reuse:
    """reusable_executions of the Target protocol, over the executions' own records."""

    def __init__(self, clients: AwsClients, pipelines: Pipelines, executions: Executions) -> None:
        self._clients = clients
        self._pipelines = pipelines
        self._executions = executions

    def reusable_executions(
        self, pipeline_name: str, wanted: Sequence[Mapping[str, Any]]
    ) -> list[ExecutionSummary | None]:
        """For each resolved parameter set, the newest execution that already did exactly it:
        Succeeded, every parameter equal (ListPipelineParametersForExecution over the
        definition's defaults), the pipeline's current definition
        (DescribePipelineDefinitionForExecution) and no SelectiveExecutionConfig."""
        current = self._pipelines.definition(pipeline_name)
        declared = current.get("Parameters", [])
        found: list[ExecutionSummary | None] = [None] * len(wanted)
        done = [s for s in self._executions.list(pipeline_name) if s.status == Status.SUCCEEDED]
        for summary in done[:MAX_REUSE_SCAN]:
            values = self._resolved_values(summary.execution_arn, declared)
            hits = [i for i, w in enumerate(wanted) if found[i] is None and dict(w) == values]
            if hits and self._whole_run_of(summary.execution_arn, current):
                described = self._executions.describe(summary.execution_arn)
                for i in hits:
                    found[i] = described
            if None not in found:
                break
        return found

    def _resolved_values(
        self, arn: str, declared: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any] | None:
        sent = self._executions.sent_parameters(arn)
        try:
            return resolve_parameters(declared, sent)
        except ParameterError:  # a parameter this definition no longer has: another version
            return None

    def _whole_run_of(self, arn: str, current: Mapping[str, Any]) -> bool:
        """True when the execution ran ``current`` in full (not a selection of its steps)."""
        sm = self._clients.sm
        with translate(f"describe execution {arn}"):
            ran = sm.describe_pipeline_definition_for_execution(PipelineExecutionArn=arn)
            described = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        same = json.loads(ran["PipelineDefinition"]) == current
        return same and not described.get("SelectiveExecutionConfig")
