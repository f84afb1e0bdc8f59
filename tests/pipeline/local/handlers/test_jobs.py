"""run_job's ``meanwhile``: the step's own work done while its job runs, exactly once."""

from __future__ import annotations

import sys
from pathlib import Path

from pipeline.local.handlers.jobs import JobCommand, Limit, run_job
from pipeline.local.runtime.hosts import Host
from pipeline.local.runtime.mode import JobRuntime

WAIT_FOR_FLAG = """
import os, sys, time
deadline = time.monotonic() + 10
while not os.path.exists(sys.argv[1]):
    if time.monotonic() > deadline:
        sys.exit("the flag never came: meanwhile ran after the job, not during it")
    time.sleep(0.01)
print("saw the flag")
"""


def test_meanwhile_runs_while_the_job_does(tmp_path: Path) -> None:
    """The job waits for a file only ``meanwhile`` writes: run after the job, it never comes."""
    job = tmp_path / "job"
    job.mkdir()
    script, flag = tmp_path / "wait.py", tmp_path / "flag"
    script.write_text(WAIT_FOR_FLAG)
    calls: list[bool] = []

    def meanwhile() -> None:
        calls.append(flag.exists())
        flag.write_text("go")

    runtime = JobRuntime(tmp_path / "store", None, False)
    command = JobCommand([sys.executable, str(script), str(flag)], {}, "/opt/ml", None)
    run = run_job(
        [(Host("algo-1", job), command)],
        tmp_path / "job.log",
        runtime,
        limit=Limit(max_runtime_s=30, grace_s=1),
        meanwhile=meanwhile,
    )
    assert run.exit_code == 0, run.tail
    assert calls == [False]  # once
    assert "saw the flag" in (tmp_path / "job.log").read_text()


def test_meanwhile_runs_once_when_the_job_cannot_start(tmp_path: Path) -> None:
    job = tmp_path / "job"
    job.mkdir()
    calls: list[int] = []
    runtime = JobRuntime(tmp_path / "store", None, False)
    command = JobCommand([str(tmp_path / "no-such-program")], {}, "/opt/ml", None)
    run = run_job(
        [(Host("algo-1", job), command)],
        tmp_path / "job.log",
        runtime,
        meanwhile=lambda: calls.append(1),
    )
    assert run.exit_code == 127
    assert calls == [1]
