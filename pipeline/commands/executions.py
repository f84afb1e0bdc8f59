"""--list-executions and --describe-execution: what the target holds, read only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.commands.base import Command
from pipeline.commands.front import Front
from pipeline.console import LIST_LIMIT
from pipeline.core.errors import MoonpipeError
from pipeline.targets.base import Target


@dataclass(frozen=True)
class ListExecutions:
    """--list-executions [--limit N]."""

    limit: int = LIST_LIMIT  # the newest N; 0: all


@dataclass(frozen=True)
class DescribeExecution:
    """--describe-execution ID (an id or an ARN)."""

    execution: str


def list_executions(request: ListExecutions, front: Front) -> int:
    """The pipeline's executions, newest first, with the parameters that differ from the
    stored definition's defaults."""
    name, target = front.config().pipeline.name, front.target()
    found = target.list_executions(name)
    front.console.executions(found, defaults(target, name), request.limit)
    return 0


def describe_execution(request: DescribeExecution, front: Front) -> int:
    """One execution with every step, its reason and its log."""
    target = front.target()
    summary = target.describe_execution(request.execution)
    front.console.defaults = defaults(target, summary.pipeline_name)
    front.console.described(summary, target.notes)
    return 0


def defaults(target: Target, pipeline_name: str) -> dict[str, Any]:
    """The stored definition's parameter defaults ({} when there is no pipeline yet)."""
    try:
        declared = target.pipeline_parameters(pipeline_name)
    except MoonpipeError:
        return {}
    return {p["Name"]: p.get("DefaultValue") for p in declared}


COMMANDS = (
    Command(ListExecutions, list_executions, "--list-executions [--limit N]"),
    Command(DescribeExecution, describe_execution, "--describe-execution ID"),
)
