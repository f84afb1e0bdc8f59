"""How a run starts its jobs: warm (the store's host) or plain subprocesses; in namespaces of
their own or with paths mapped (pipeline/local/runtime/mode.py).

``MOONPIPE_JOB_START`` / ``local.job_start`` choose warm or subprocess; warm needs fork and a
Unix socket (Linux). The host is started here, as the execution begins, so its imports run
while the first step prepares its inputs; a command may let one import earlier still
(:func:`prepare`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from pipeline.local.runtime.mode import (
    ISOLATION_VARIABLE,
    NOT_EMULATED,
    JobRuntime,
    isolation_refused,
)
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


def job_runtime(
    store_root: Path,
    job_start: str,
    idle_s: float,
    notes: list[str],
    environ: Mapping[str, str] | None = None,
) -> JobRuntime:
    """The run's JobRuntime: namespaces where they work, the warm host if ``job_start`` is
    warm (a note when either is not to be had)."""
    environ = os.environ if environ is None else environ
    reason = isolation_refused(environ.get(ISOLATION_VARIABLE, ""))
    starter = warm_starter(store_root, job_start, idle_s, notes)
    if reason is None:
        return JobRuntime(store_root, starter, True, notes=notes)
    fallback = f"jobs run without namespaces of their own ({reason}): {NOT_EMULATED}"
    return JobRuntime(store_root, starter, False, fallback, notes=notes)
