"""Sweep points: each recorded execution runs to its end in a worker process of its own.

The sweep records each point's execution (so every point is checked before any runs) and
hands it to :class:`LocalPointRuns`, which starts a worker in its own session: Ctrl-C reaches
the sweep only, which then stops each point with --stop semantics (stop.json, SIGTERM) so
every point ends recorded Stopped. A worker is a runner (pipeline.local.runner) that draws
no page: the sweep has its points' pages drawn once they have all ended.

The sweep holds each point it recorded (pipeline.local.interruptions) until its worker
does: the worker inherits the runner lock's descriptor, the sweep names it the point's
starter and lets go, then tells it to begin through a pipe (Ctrl-C and SIGTERM wait while
this happens). So the lock never leaves live hands named in the record, and a --stop at
any moment reaches the process that runs the point.

A worker is forked from the sweep process, which has already imported the engine and
loaded the API gate's model: a fresh interpreter per point paid ~0.5 s of imports and the
gate's botocore load again, on cores the points share. Where jobs are not to be forked
(``job_start: subprocess``) a worker is ``python -m pipeline.local.points STORE_ROOT REGION
EXECUTION_ARN JOB_START WARM_IDLE_S`` instead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Protocol

from pipeline.core.errors import MoonpipeError
from pipeline.core.interrupts import interrupts_unwind
from pipeline.core.refs import execution_id
from pipeline.core.status import Status
from pipeline.local.interruptions import (
    adopt,
    allow_interrupts,
    deferred_interrupts,
    end_held,
    hand_over,
    hold,
)
from pipeline.local.runner import LocalRunner, open_store
from pipeline.local.store.layout import StoreLayout
from pipeline.local.store.records import Records

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_point(store_root: Path, region: str, arn: str, job_start: str, idle_s: float) -> int:
    """Run the execution; 0 when it succeeded, 1 when not, 2 when it could not be run.
    (--stop sends SIGTERM; unwinding as KeyboardInterrupt ends the execution Stopped.)"""
    try:
        with interrupts_unwind():
            allow_interrupts()  # held while the sweep handed the point over
            runner = LocalRunner(
                open_store(store_root, region), job_start=job_start, warm_idle_s=idle_s
            )
            summary = runner.run(arn, lambda _record: None)
    except MoonpipeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0 if summary.status == Status.SUCCEEDED else 1


class _Process(Protocol):
    """What a worker process offers: subprocess.Popen's pid, poll and wait."""

    pid: int

    def poll(self) -> int | None: ...

    def wait(self) -> int: ...


class ForkedWorker:
    """A forked child running one point; polled and waited for like a Popen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code once the child has ended, else None (never blocks)."""
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self) -> int:
        """Block until the child has ended; its exit code."""
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


class PointWorker:
    """One started point's worker (forked or a fresh interpreter), as the sweep follows it."""

    def __init__(self, process: _Process) -> None:
        self.process = process

    def exited(self) -> bool:
        """True once the worker has ended (never blocks)."""
        return self.process.poll() is not None

    def wait(self) -> None:
        """Block until the worker has ended."""
        self.process.wait()

    def exit_code(self) -> int | None:
        """0: the execution succeeded, 1: it did not, 2: it could not be run, 130: stopped
        by a signal; None while the worker runs."""
        return self.process.poll()


class LocalPointRuns:
    """Starts a worker per local point: forked when jobs may fork, else a new interpreter."""

    def __init__(
        self,
        store_root: Path,
        region: str,
        job_start: str,
        idle_s: float,
        fork: bool | None = None,
    ) -> None:
        """``fork``: default, when jobs start warm (a setting that says forking is safe here)."""
        self.store_root, self.region = Path(store_root), region
        self.job_start, self.idle_s = job_start, idle_s
        wanted = job_start == "warm" if fork is None else fork
        self.fork = wanted and hasattr(os, "fork")

    def launch(self, execution_arn: str) -> PointWorker:
        """Run the recorded execution in a worker; its output goes to the store's sweeps/.

        The worker is handed the execution's hold (see the module docstring).
        """
        point_id = execution_id(execution_arn)
        log = StoreLayout(self.store_root).sweep_worker_log(point_id)
        log.parent.mkdir(parents=True, exist_ok=True)
        claim = hold(Records(self.store_root), point_id)
        with deferred_interrupts():
            go_read, go_write = os.pipe()
            try:
                handed = (claim.fd, go_read)
                started: _Process = (
                    self._fork(execution_arn, log, handed)
                    if self.fork
                    else self._spawn(execution_arn, log, handed)
                )
                try:
                    hand_over(claim, started.pid)
                finally:
                    claim.release()
            finally:
                os.close(go_read)
                os.close(go_write)  # the worker's signal to begin (EOF, should we fail)
        return PointWorker(started)

    def _spawn(
        self, execution_arn: str, log: Path, handed: tuple[int, int]
    ) -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", __name__, str(self.store_root), self.region]
        argv += [execution_arn, self.job_start, str(self.idle_s), *map(str, handed)]
        with log.open("wb") as out:
            os.fchmod(out.fileno(), 0o600)  # the run's output is its user's only (issue 21)
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=REPO_ROOT,
                pass_fds=handed,
            )

    def _fork(self, execution_arn: str, log: Path, handed: tuple[int, int]) -> ForkedWorker:
        sys.stdout.flush()
        sys.stderr.flush()  # or the child would write the sweep's pending lines again
        pid = os.fork()
        if pid:
            return ForkedWorker(pid)
        code = 2
        try:
            become_worker(log, keep=handed)
            take_over(self.store_root, execution_arn, *handed)
            code = run_point(
                self.store_root, self.region, execution_arn, self.job_start, self.idle_s
            )
        finally:
            end_held()  # interrupted before its run began: it ends Stopped
            os._exit(code)  # never back into the sweep's loop, its atexit or its buffers


def take_over(store_root: Path, execution_arn: str, lock_fd: int, go_fd: int) -> None:
    """In the worker: wait for the sweep to name it the point's starter (or to be gone),
    then hold the point through the inherited lock descriptor (Ctrl-C and SIGTERM still
    wait: :func:`run_point` lets them in)."""
    os.read(go_fd, 1)
    os.close(go_fd)
    adopt(Records(store_root), execution_id(execution_arn), lock_fd)


def become_worker(log: Path, keep: tuple[int, ...] = ()) -> None:
    """In the child: its own session, output to the log, no descriptor of the sweep's kept
    but those in ``keep`` (its point's lock, the pipe that says when to begin).

    Inherited descriptors would keep the sweep's locks and sockets alive after the sweep let
    go of them (flock belongs to the open file, which the child would share).
    """
    os.setsid()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    low = 3
    for kept in sorted(keep):
        os.closerange(low, kept)
        low = kept + 1
    os.closerange(low, _max_fd())


def _max_fd() -> int:
    try:
        return int(os.sysconf("SC_OPEN_MAX"))
    except (ValueError, OSError):
        return 4096


def main(argv: list[str]) -> int:
    """The subprocess worker's entry point (see the module docstring)."""
    if len(argv) not in (5, 7):
        print(
            "usage: python -m pipeline.local.points STORE_ROOT REGION EXECUTION_ARN "
            "JOB_START WARM_IDLE_S [LOCK_FD GO_FD]"
        )
        return 2
    if len(argv) == 7:
        take_over(Path(argv[0]), argv[2], int(argv[5]), int(argv[6]))
    return run_point(Path(argv[0]), argv[1], argv[2], argv[3], float(argv[4]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
