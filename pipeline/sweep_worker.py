"""Kept for pipeline/sweep.py until the front runs its points through ``Target.point_runs()``
(issue 16, the front's part): the worker itself is the engine's, pipeline.local.points."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.local.points import LocalPointRuns


class LocalWorkers:
    """The sweep's old handle on point workers: ``launch`` sets ``point.worker``."""

    def __init__(
        self, store_root: Path, region: str, job_start: str, idle_s: float, fork: bool | None = None
    ) -> None:
        self.runs = LocalPointRuns(store_root, region, job_start, idle_s, fork)

    def launch(self, point: Any) -> None:
        """Start the point's recorded execution in a worker of its own."""
        point.worker = self.runs.launch(str(point.execution_arn))

    @staticmethod
    def exited(point: Any) -> bool | None:
        """True once the point's worker has exited."""
        return point.worker is None or point.worker.exited()
