"""A SageMaker execution's report facts: now gathered by the target itself
(pipeline/targets/sagemaker/facts.py, through ``execution_facts``/``execution_data``).

This wrapper keeps ``aws_facts`` for pipeline/report/write.py's ``write_aws_report`` until
the report renders every target through ``ReportWriter(target)``; then it goes.
"""

from __future__ import annotations

from typing import Any

from pipeline.core.records import ExecutionFacts
from pipeline.report.plots import PlotData
from pipeline.targets.sagemaker.clients import ReadyClients
from pipeline.targets.sagemaker.facts import BOUNDARY_NOTE, SERIES_NOTE, Facts, typed_parameters
from pipeline.targets.sagemaker.steps import StepReader

__all__ = ["BOUNDARY_NOTE", "SERIES_NOTE", "aws_facts", "typed_parameters"]


def aws_facts(sm: Any, s3: Any, arn: str) -> tuple[ExecutionFacts, PlotData]:
    """The report facts and plot data of one SageMaker execution."""
    clients = ReadyClients(sm, s3)
    facts = Facts(clients, StepReader(clients, []))
    data = facts.execution_data(arn)
    return facts.execution_facts(arn), PlotData(data.train, data.test, None, data.note)
