"""The SageMaker target's calls for the iteration loop: retry, and a selection's source and graph.

A mixin of SageMakerTarget (see pipeline/sweep.py and pipeline/selection_cli.py for the
loop itself); it uses the target's client and its execution lookups.
"""

from __future__ import annotations

from typing import Any

from pipeline.errors import ConfigError
from pipeline.targets.base import ExecutionSummary
from pipeline.targets.sagemaker_errors import translate


class IterationCalls:
    """retry_execution and plan of the Target protocol, and the selective start's source."""

    _sm: Any

    def _execution_arn(self, execution_ref: str) -> str: ...

    def _describe_pipeline(self, name: str) -> dict[str, Any]: ...

    def list_executions(self, pipeline_name: str) -> list[ExecutionSummary]: ...

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
        from pipeline.local.definition import parse_definition

        return parse_definition(self._describe_pipeline(pipeline_name)["PipelineDefinition"])
