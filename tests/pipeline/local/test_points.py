"""A sweep point's worker: forked from the sweep or a fresh interpreter, the same outcome."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from pipeline.local.points import ForkedWorker, LocalPointRuns, PointWorker, become_worker
from pipeline.local.runner import LocalRunner
from tests.pipeline.local.engine import local_runner
from tests.pipeline.local.local_defs import full_definition, pipeline


def _recorded(store: Path) -> tuple[LocalRunner, str]:
    """A stored execution of data → train → evaluate (no hosting: no server to clean up)."""
    definition = full_definition()
    definition["Steps"] = definition["Steps"][:3]
    runner = local_runner(store)
    runner.pipelines.upsert(pipeline(definition), None)
    return runner, runner.start("p", {})


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "subprocess"])
def test_a_worker_runs_the_recorded_execution_to_its_end(tmp_path: Path, fork: bool) -> None:
    runner, arn = _recorded(tmp_path)
    runs = LocalPointRuns(tmp_path, "us-east-1", "subprocess", 60.0, fork=fork)
    worker = runs.launch(arn)
    assert isinstance(worker.process, ForkedWorker) is fork
    worker.wait()
    assert worker.exit_code() == 0
    assert worker.exited()
    summary = runner.describe(arn)
    assert summary.status == "Succeeded", summary.failure_reason
    assert [s.status for s in summary.steps] == ["Succeeded"] * 3
    # no page: the sweep has the points' pages drawn once every point has ended
    assert not (tmp_path / "executions" / summary.execution_id / "report.html").exists()
    assert (tmp_path / "sweeps" / f"{summary.execution_id}.worker.log").is_file()


def test_a_failed_execution_is_exit_code_1_of_a_forked_worker(tmp_path: Path) -> None:
    runner = local_runner(tmp_path)
    runner.pipelines.upsert(pipeline(), None)  # Accuracy below Threshold: the Fail step
    arn = runner.start("p", {"Accuracy": "0.1"})
    worker = LocalPointRuns(tmp_path, "us-east-1", "subprocess", 60.0, fork=True).launch(arn)
    worker.wait()
    assert worker.exit_code() == 1
    assert runner.describe(arn).status == "Failed"


def test_points_fork_when_jobs_start_warm_unless_told() -> None:
    assert LocalPointRuns(Path("s"), "r", "warm", 1.0).fork is True
    assert LocalPointRuns(Path("s"), "r", "subprocess", 1.0).fork is False
    assert LocalPointRuns(Path("s"), "r", "warm", 1.0, fork=False).fork is False


def test_forked_worker_polls_without_blocking_then_waits_for_the_exit_code() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: wait for the parent's word, then exit 3
        os.read(read, 1)
        os._exit(3)
    worker = ForkedWorker(pid)
    point = PointWorker(worker)
    assert worker.poll() is None and point.exited() is False and point.exit_code() is None
    os.write(write, b"x")
    assert worker.wait() == 3 and worker.poll() == 3
    assert point.exited() is True and point.exit_code() == 3
    os.close(read)
    os.close(write)


def test_a_forked_worker_keeps_none_of_the_sweeps_descriptors(tmp_path: Path) -> None:
    """A lock the sweep holds must not live on in a child after the sweep lets it go."""
    held = (tmp_path / "held.lock").open("w")
    fcntl.flock(held, fcntl.LOCK_EX)
    log = tmp_path / "child.log"
    pid = os.fork()
    if pid == 0:
        try:
            become_worker(log)
            leader = os.getsid(0) == os.getpid()
            fds = " ".join(sorted(os.listdir("/proc/self/fd")))
            os.write(1, f"{leader} {fds}".encode())  # fd 1: the log (sys.stdout is pytest's)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    held.close()
    leader, *fds = log.read_text().split()
    assert leader == "True"  # a session of its own: the terminal's Ctrl-C reaches the sweep only
    assert set(fds) <= {"0", "1", "2", "3"}  # 3: listdir's own handle on /proc/self/fd
    with (tmp_path / "held.lock").open("w") as again:
        fcntl.flock(again, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: nobody kept it
