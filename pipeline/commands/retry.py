"""--retry: a Failed or Stopped execution resumes from the steps that did not succeed."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.commands.base import Command
from pipeline.commands.front import Front
from pipeline.commands.run import exit_code
from pipeline.core.refs import pipeline_arn_of


@dataclass(frozen=True)
class RetryExecution:
    """--retry ID (an id or an ARN)."""

    execution: str


def retry_execution(request: RetryExecution, front: Front) -> int:
    """Resume it, follow it to its end, print the summary; 1 unless it then Succeeded."""
    target, console = front.target(), front.console
    arn = target.retry_execution(request.execution)
    console.progress(f"retrying execution {arn}")
    summary = target.wait(arn, console.step)
    console.execution(summary, pipeline_arn_of(arn), notes=target.notes)
    return exit_code(summary.status)


COMMANDS = (Command(RetryExecution, retry_execution, "--retry ID"),)
