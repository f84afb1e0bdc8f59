"""The engine as the local target drives it, for the engine's own tests (no pipeline.targets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.local.runner import LocalRunner, open_store


def local_runner(store: Path, endpoints: Any = None, **settings: Any) -> LocalRunner:
    """A runner of ``store`` whose jobs start as plain subprocesses and draw no page."""
    settings = {"job_start": "subprocess", "warm_idle_s": 60.0, **settings}
    return LocalRunner(open_store(store, "us-east-1"), endpoints=endpoints, **settings)
