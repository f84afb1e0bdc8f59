"""Score a model's decision boundary once, in a background process, and keep the grid.

boundary_job.py imports torch (seconds here), so a report that is rewritten after every
step starts it as soon as a model exists and goes on without it; the evaluation step runs
meanwhile, and the last rewrite waits for the grid. The grid is kept beside the execution,
so a later ``--report`` does not score it again.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from pipeline.local.store.atomic import read_json, write_json
from pipeline.report.plots import Boundary

GRID = 80
TIMEOUT_S = 180
Bounds = tuple[float, float, float, float]


class BoundaryError(Exception):
    """The model could not score the grid; the message says why."""


class BoundaryPending(Exception):
    """The grid is still being scored."""


@dataclass
class _Job:
    process: subprocess.Popen[bytes]
    stdout: IO[bytes]
    stderr: IO[bytes]
    bounds: Bounds


class BoundaryScorer:
    """Starts at most one scoring job per model; remembers results and failures."""

    def __init__(self) -> None:
        self._jobs: dict[Path, _Job] = {}
        self._failed: dict[Path, str] = {}

    def boundary(
        self, cache: Path, archive: Path, model_uri: str, bounds: Bounds, wait: bool = True
    ) -> Boundary:
        """The grid of ``archive`` (BoundaryPending while scoring and not ``wait``)."""
        saved = read_json(cache) if cache.is_file() else {}
        if saved.get("model") == model_uri:
            return Boundary(**saved["boundary"])
        if cache in self._failed:
            raise BoundaryError(self._failed[cache])
        job = self._jobs.get(cache) or self._start(cache, archive, bounds)
        if not wait and job.process.poll() is None:
            raise BoundaryPending
        try:
            probabilities = _finish(job)
        except BoundaryError as err:
            self._failed[cache] = str(err)
            raise
        finally:
            self._jobs.pop(cache, None)
        boundary = Boundary(*job.bounds, probabilities=probabilities)
        write_json(cache, {"model": model_uri, "boundary": asdict(boundary)})
        return boundary

    def _start(self, cache: Path, archive: Path, bounds: Bounds) -> _Job:
        if not archive.is_file():
            self._failed[cache] = f"the model artifact {archive} is not in the store"
            raise BoundaryError(self._failed[cache])
        script = Path(__file__).with_name("boundary_job.py")
        argv = [sys.executable, str(script), str(archive), *(f"{v:.4f}" for v in bounds), str(GRID)]
        env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
        out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115 - closed by _finish
        process = subprocess.Popen(argv, stdout=out, stderr=err, env=env, stdin=subprocess.DEVNULL)
        self._jobs[cache] = _Job(process, out, err, bounds)
        return self._jobs[cache]


def _finish(job: _Job) -> list[list[float]]:
    try:
        code = job.process.wait(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        job.process.kill()
        job.process.wait()
        raise BoundaryError("scoring the decision boundary took too long") from None
    job.stdout.seek(0)
    job.stderr.seek(0)
    out, err = job.stdout.read(), job.stderr.read().decode("utf-8", "replace")
    job.stdout.close()
    job.stderr.close()
    if code != 0:
        last = (err.strip().splitlines() or ["no output"])[-1]
        raise BoundaryError(f"the model's own code could not score the grid: {last}")
    return json.loads(out)["probabilities"]
