"""The SageMaker target's calls for the iteration loop: retry, a selection's source and graph,
and which sweep points already ran.

A mixin of SageMakerTarget (see pipeline/sweep.py and pipeline/selection_cli.py for the
loop itself); it uses the target's client and its execution lookups.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.core.errors import ConfigError, ParameterError
from pipeline.core.records import ExecutionSummary
from pipeline.overrides import resolve_parameters
from pipeline.targets.sagemaker.errors import translate

# Succeeded executions a sweep looks through, newest first, for points it can reuse: each
# costs a ListPipelineParametersForExecution call (a match two more).
MAX_REUSE_SCAN = 50


class IterationCalls:
    """retry_execution and plan of the Target protocol, and the selective start's source."""

    _sm: Any
    _s3: Any

    def _execution_arn(self, execution_ref: str) -> str: ...

    def _describe_pipeline(self, name: str) -> dict[str, Any]: ...

    def list_executions(self, pipeline_name: str) -> list[ExecutionSummary]: ...

    def describe_execution(self, execution_ref: str) -> ExecutionSummary: ...

    def _source_arn(self, pipeline_name: str, source_execution: str | None) -> str:
        if source_execution is not None:
            return self._execution_arn(source_execution)
        for summary in self.list_executions(pipeline_name):
            if summary.status in ("Succeeded", "Failed"):
                return summary.execution_arn
        raise ConfigError(
            f"pipeline {pipeline_name} has no Succeeded or Failed execution to take the "
            "unselected steps from; run a full --start first"
        )

    def retry_execution(self, execution_ref: str) -> str:
        """RetryPipelineExecution: the same execution resumes from the steps that failed."""
        arn = self._execution_arn(execution_ref)
        with translate(f"retry execution {execution_ref}"):
            self._sm.retry_pipeline_execution(PipelineExecutionArn=arn)
        return arn

    def plan(self, pipeline_name: str) -> Any:
        """The stored definition's graph (the local engine's parser is pure: no engine runs)."""
        from pipeline.local.graph import parse_definition

        return parse_definition(self._describe_pipeline(pipeline_name)["PipelineDefinition"])

    def reusable_executions(
        self, pipeline_name: str, wanted: Sequence[Mapping[str, Any]]
    ) -> list[ExecutionSummary | None]:
        """For each resolved parameter set, the newest execution that already did exactly it:
        Succeeded, every parameter equal (ListPipelineParametersForExecution over the
        definition's defaults), the pipeline's current definition
        (DescribePipelineDefinitionForExecution) and no SelectiveExecutionConfig."""
        current = json.loads(self._describe_pipeline(pipeline_name)["PipelineDefinition"])
        declared = current.get("Parameters", [])
        found: list[ExecutionSummary | None] = [None] * len(wanted)
        done = [s for s in self.list_executions(pipeline_name) if s.status == "Succeeded"]
        for summary in done[:MAX_REUSE_SCAN]:
            values = self._resolved_values(summary.execution_arn, declared)
            hits = [i for i, w in enumerate(wanted) if found[i] is None and dict(w) == values]
            if hits and self._whole_run_of(summary.execution_arn, current):
                described = self.describe_execution(summary.execution_arn)
                for i in hits:
                    found[i] = described
            if None not in found:
                break
        return found

    def _resolved_values(self, arn: str, declared: Sequence[Mapping[str, Any]]) -> Any:
        with translate(f"list the parameters of {arn}"):
            pages = self._sm.get_paginator("list_pipeline_parameters_for_execution").paginate(
                PipelineExecutionArn=arn
            )
            sent = {p["Name"]: p["Value"] for page in pages for p in page["PipelineParameters"]}
        try:
            return resolve_parameters(declared, sent)
        except ParameterError:  # a parameter this definition no longer has: another version
            return None

    def _whole_run_of(self, arn: str, current: Mapping[str, Any]) -> bool:
        """True when the execution ran ``current`` in full (not a selection of its steps)."""
        with translate(f"describe execution {arn}"):
            ran = self._sm.describe_pipeline_definition_for_execution(PipelineExecutionArn=arn)
            described = self._sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        same = json.loads(ran["PipelineDefinition"]) == current
        return same and not described.get("SelectiveExecutionConfig")

    def execution_metrics(self, execution_arn: str) -> dict[str, float]:
        """The metrics a local summary holds, read as --report reads them here: the evaluation
        report (the package's ModelMetrics, else the evaluation output on S3) and the training
        job's FinalMetricDataList. DescribePipelineExecution carries none, so a sweep asks
        once per succeeded point, to rank them."""
        from pipeline.report.aws_source import aws_facts
        from pipeline.report.report_model import build_report

        report = build_report(aws_facts(self._sm, self._s3, execution_arn)[0])
        return {**report.metrics, **report.training_final}
