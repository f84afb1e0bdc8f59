"""--compare: executions side by side, the verdict, and an HTML comparison page."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.commands.base import Command
from pipeline.commands.front import Front


@dataclass(frozen=True)
class CompareExecutions:
    """--compare ID ID [ID ...] [--report-out PATH]."""

    executions: tuple[str, ...]
    out: Path | None = None


def compare(request: CompareExecutions, front: Front) -> int:
    """The table (best marked), the verdict, and the page's path as the last line."""
    from pipeline.report.actions import write_comparison  # the report loads only when used

    comparison, path = write_comparison(front.target(), request.executions, request.out)
    front.console.compared(comparison, path)
    return 0


COMMANDS = (Command(CompareExecutions, compare, "--compare ID ID [ID ...] [--report-out PATH]"),)
