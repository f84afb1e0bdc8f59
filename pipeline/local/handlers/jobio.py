"""Job I/O shared by processing and training: inputs in, environment, the subprocess, logs.

A job is a subprocess of the engine's own Python, with the job's /opt/ml mapped onto its
folder in the store (pipeline/local/container.py). Its output goes, merged, to the step's
log file and line by line to an optional listener.
"""

from __future__ import annotations

import collections
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from pipeline.local.container import host_path, map_args, map_env
from pipeline.local.store import ObjectStore

_PYTHONS = {"python", "python3"}
_TAIL_LINES = 5
MESSAGE_LIMIT = 1024
JOB_STOP_GRACE_S = 5.0
_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


@dataclass(frozen=True)
class JobRun:
    """How a job's process ended, with its last lines for a failure reason."""

    exit_code: int
    tail: tuple[str, ...]


def fetch_input(objects: ObjectStore, uri: str, container_path: str, job_root: Path) -> Path:
    """Copy an S3 input into the job's folder; ValueError when there is nothing to copy."""
    dest = host_path(container_path, job_root)
    dest.mkdir(parents=True, exist_ok=True)
    if objects.download(uri, dest) == 0:
        raise ValueError(f"input {uri} has no objects in the local store")
    return dest


def job_environment(job_env: Mapping[str, str], job_root: Path) -> dict[str, str]:
    """The process environment: ours, then the job's (mapped), with single-thread defaults.

    The engine's interpreter directory goes first on PATH so shell wrappers that call
    ``python`` (FrameworkProcessor's runproc.sh) get the same interpreter as the engine.
    """
    env = dict(os.environ)
    env.update(map_env({k: str(v) for k, v in job_env.items()}, job_root))
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(job_env.get(name, "1"))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def command(argv: Sequence[str], job_root: Path) -> list[str]:
    """Map container paths in ``argv``; a bare python interpreter becomes ours."""
    mapped = map_args(list(argv), job_root)
    if mapped and mapped[0] in _PYTHONS:
        mapped[0] = sys.executable
    return mapped


def run_job(
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    on_line: Callable[[str], None] | None = None,
) -> JobRun:
    """Run the job to its end, merging stdout and stderr into ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
    with log_path.open("a", encoding="utf-8") as log:
        try:
            proc = subprocess.Popen(
                list(argv), cwd=cwd, env=dict(env), stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1,
                preexec_fn=_die_with_runner if _LIBC is not None else None,
            )
        except OSError as err:
            log.write(f"could not start {argv[0]}: {err}\n")
            return JobRun(127, (f"could not start {argv[0]}: {err.strerror}",))
        try:
            _follow(proc, log, tail, on_line)
        except BaseException:  # Ctrl-C, SIGTERM or --stop: the job must not outlive the run
            stop_job(proc)
            log.write("job stopped: the execution was interrupted or stopped\n")
            raise
        return JobRun(proc.wait(), tuple(tail))


def _die_with_runner() -> None:
    """In the job, before exec: the kernel kills the job if the runner dies (even SIGKILL).

    Else a killed run would leave its job computing (and holding memory) for nobody.
    """
    assert _LIBC is not None
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _follow(proc: subprocess.Popen[str], log: TextIO, tail: collections.deque[str],
            on_line: Callable[[str], None] | None) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        log.write(line)
        text = line.rstrip("\n")
        if text.strip():
            tail.append(text)
        if on_line is not None:
            on_line(text)


def stop_job(proc: subprocess.Popen[str], grace_s: float = JOB_STOP_GRACE_S) -> None:
    """SIGTERM the job (SageMaker's stop signal), SIGKILL it if still there after grace."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def failure_reason(message_file: Path, run: JobRun) -> str:
    """The job's own message (first 1 KB), else its exit code and last output lines."""
    if message_file.is_file():
        text = message_file.read_bytes()[:MESSAGE_LIMIT].decode("utf-8", "replace").strip()
        if text:
            return text
    last = " | ".join(run.tail) if run.tail else "no output"
    return f"exit code {run.exit_code}; last output: {last}"

