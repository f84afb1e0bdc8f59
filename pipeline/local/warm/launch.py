"""How the local target picks its job starter: warm (the store's host) or plain subprocesses.

``MOONPIPE_JOB_START`` / ``local.job_start`` choose; warm needs fork and a Unix socket
(Linux). The host is started here, as the execution begins, so its imports run while the
first step prepares its inputs; a command may let one import earlier still (:func:`prepare`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from pipeline.local.warm.client import WarmHostError, WarmStarter

JOB_START_CHOICES = ("warm", "subprocess")


def prepare(store_root: Path, job_start: str, idle_s: float) -> None:
    """Let the store's job host import now, before the request is checked: it serves once
    :func:`warm_starter` needs it, and leaves with this process if nothing does
    (WarmStarter.prepare)."""
    if _warm(job_start):
        with contextlib.suppress(OSError):
            WarmStarter(store_root, idle_s).prepare()


def _warm(job_start: str) -> bool:
    return job_start == "warm" and sys.platform.startswith("linux") and hasattr(os, "fork")


def warm_starter(
    store_root: Path, job_start: str, idle_s: float, notes: list[str]
) -> WarmStarter | None:
    """A started WarmStarter, or None for plain subprocesses (with a note if warm failed)."""
    if not _warm(job_start):
        return None
    starter = WarmStarter(store_root, idle_s)
    try:
        starter.ensure()
    except (WarmHostError, OSError) as err:
        notes.append(f"jobs started as subprocesses: the warm host did not start ({err})")
        return None
    return starter
