"""--retry: a Failed or Stopped execution resumes from the steps that did not succeed."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.commands.base import Command
from pipeline.commands.executions import defaults
from pipeline.commands.front import Front
from pipeline.commands.run import exit_code, watch_metrics
from pipeline.core.refs import pipeline_arn_of


@dataclass(frozen=True)
class RetryExecution:
    """--retry ID (an id or an ARN) [--wait] [--follow]."""

    execution: str
    wait: bool = False
    follow: bool = False


def retry_execution(request: RetryExecution, front: Front) -> int:
    """Resume it and see it through as --start does (locally it runs here, to its end; on
    SageMaker it is followed with --wait, else described once); 1 unless it Succeeded."""
    console = front.console
    target = front.target(console.job_line if request.follow else console.live_line)
    if request.follow:
        target.check_follow()
    arn = target.retry_execution(request.execution)
    console.progress(f"retrying execution {arn}")
    name = front.config().pipeline.name
    console.defaults = defaults(target, name)
    if not request.follow:
        watch_metrics(console, target, name)
    summary = target.run_or_follow(arn, request.wait, console.step)
    console.execution(summary, pipeline_arn_of(arn), notes=target.notes)
    return exit_code(summary.status)


COMMANDS = (Command(RetryExecution, retry_execution, "--retry ID [--wait] [--follow]"),)
