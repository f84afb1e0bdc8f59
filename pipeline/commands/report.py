"""--report: one execution's self-contained HTML page (default: the newest execution)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.commands.base import Command
from pipeline.commands.front import Front


@dataclass(frozen=True)
class WriteReport:
    """--report [ID] [--report-out PATH]."""

    execution: str | None = None  # None: the newest
    out: Path | None = None


def report(request: WriteReport, front: Front) -> int:
    """Write the page and print its path as the last line (``{"report": PATH}``)."""
    from pipeline.report.actions import write_report  # the report loads only when used

    name = front.config().pipeline.name
    path = write_report(front.target(), name, request.execution, request.out)
    front.console.report_written(path)
    return 0


COMMANDS = (Command(WriteReport, report, "--report [ID] [--report-out PATH]"),)
