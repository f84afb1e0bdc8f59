"""One warm host per test module (its imports cost seconds), stopped at the end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.local.handlers.jobs import JobCommand, JobRun, run_job
from pipeline.local.runtime.hosts import Host
from pipeline.local.runtime.mode import JobRuntime
from pipeline.local.warm.client import WarmStarter


@pytest.fixture(scope="module")
def starter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WarmStarter]:
    warm = WarmStarter(tmp_path_factory.mktemp("warm") / "store", idle_s=300)
    warm.ensure()
    deadline = time.monotonic() + 120
    while not warm.preloaded() and time.monotonic() < deadline:  # torch's threads set
        time.sleep(0.05)
    try:
        yield warm
    finally:
        warm.stop()


def write(folder: Path, name: str, text: str) -> Path:
    """A small job script in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def run_in(
    job: Path,
    starter: WarmStarter | None,
    argv: list[str],
    env: dict[str, str] | None = None,
    cwd: str = "/opt/ml",
    on_line: Any = None,
    namespaces: bool = False,
    image: str | None = None,
) -> tuple[JobRun, str]:
    """Run ``argv`` as a one-host job of ``image`` whose /opt/ml is ``job`` (forked from
    ``starter``'s host or lane when it can, else a subprocess); the run and the log's text."""
    job.mkdir(parents=True, exist_ok=True)
    runtime = JobRuntime(job.parent / "store", starter, namespaces)
    log = job / "job.log"
    command = JobCommand(argv, env or {}, cwd, image)
    run = run_job([(Host("algo-1", job), command)], log, runtime, on_line)
    return run, log.read_text()
