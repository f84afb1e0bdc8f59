"""--stop-host: the store's warm job host leaves now (it also leaves when idle)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.commands.base import Command
from pipeline.commands.front import Front


@dataclass(frozen=True)
class StopHost:
    """--stop-host."""


def stop_host(request: StopHost, front: Front) -> int:
    """Say whether a host was running (a target without one refuses in one line)."""
    pid = front.target().stop_warm_host()
    console = front.console
    if console.json_mode:
        console.emit_result({"warm_host": {"stopped": pid is not None, "pid": pid}})
    else:
        console.progress(f"warm host (pid {pid}) stopped" if pid else "no warm host was running")
    return 0


COMMANDS = (Command(StopHost, stop_host, "--stop-host"),)
