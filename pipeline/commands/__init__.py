"""run_pipeline.py's actions: one module per command, one typed request per action, one table.

pipeline/flags.py parses the flags into exactly one request (plus the :class:`Settings`
every command shares); :func:`dispatch` looks its type up in :data:`TABLE` and runs the
command's function against a :class:`Front` (the console, the config and the target, made
on first use). The usage line of every action is generated from the same table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.commands import (
    compare,
    definition,
    endpoints,
    executions,
    host,
    registry,
    report,
    retry,
    run,
    stop,
    sweep,
    ui,
)
from pipeline.commands.base import Command
from pipeline.commands.compare import CompareExecutions
from pipeline.commands.definition import ShowDefinition
from pipeline.commands.endpoints import DeleteEndpoint, InvokeEndpoint, ListEndpoints
from pipeline.commands.executions import DescribeExecution, ListExecutions
from pipeline.commands.front import Front, Settings
from pipeline.commands.host import StopHost
from pipeline.commands.registry import DeployModelPackage, ListModelPackages, UpdateModelPackage
from pipeline.commands.report import WriteReport
from pipeline.commands.retry import RetryExecution
from pipeline.commands.run import RunPipeline
from pipeline.commands.stop import StopExecution
from pipeline.commands.sweep import Sweep
from pipeline.commands.ui import ServeUI

Request = (
    RunPipeline
    | ShowDefinition
    | ListExecutions
    | DescribeExecution
    | StopExecution
    | RetryExecution
    | WriteReport
    | CompareExecutions
    | Sweep
    | ListEndpoints
    | InvokeEndpoint
    | DeleteEndpoint
    | StopHost
    | ServeUI
    | ListModelPackages
    | UpdateModelPackage
    | DeployModelPackage
)

COMMANDS: tuple[Command[Any], ...] = (
    *run.COMMANDS,
    *definition.COMMANDS,
    *executions.COMMANDS,
    *stop.COMMANDS,
    *retry.COMMANDS,
    *report.COMMANDS,
    *compare.COMMANDS,
    *sweep.COMMANDS,
    *endpoints.COMMANDS,
    *registry.COMMANDS,
    *host.COMMANDS,
    *ui.COMMANDS,
)
USAGE_WIDTH = 96
_AND_ANY = "  and any of: "
TABLE: dict[type, Command[Any]] = {command.request: command for command in COMMANDS}
"""The one dispatch table: request type -> the command that carries it out."""


@dataclass(frozen=True)
class Invocation:
    """What the flags ask for: the settings every command shares, and one request."""

    settings: Settings
    request: Request


def dispatch(request: Request, front: Front) -> int:
    """Carry the request out; its exit code (a MoonpipeError for people propagates)."""
    return TABLE[type(request)].run(request, front)


def usage(settings: Sequence[str]) -> str:
    """Every action's usage line, from the table; then ``settings``, the flags every action
    takes (``[--json]``...), as many to a line as fit."""
    lines = [f"  run_pipeline.py {command.usage}" for command in COMMANDS]
    line = _AND_ANY
    for flag in settings:
        if len(line) + len(flag) > USAGE_WIDTH and line.strip() != _AND_ANY.strip():
            lines.append(line.rstrip())
            line = " " * len(_AND_ANY)
        line += flag + " "
    return "\n" + "\n".join([*lines, line.rstrip()])
