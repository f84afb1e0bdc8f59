"""--stop: a running execution ends Stopped (from any process, as on SageMaker)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.commands.base import Command
from pipeline.commands.front import Front


@dataclass(frozen=True)
class StopExecution:
    """--stop ID (an id or an ARN)."""

    execution: str


def stop_execution(request: StopExecution, front: Front) -> int:
    """Stop it and show it as it is now."""
    target = front.target()
    front.console.described(target.stop_execution(request.execution), target.notes)
    return 0


COMMANDS = (Command(StopExecution, stop_execution, "--stop ID"),)
