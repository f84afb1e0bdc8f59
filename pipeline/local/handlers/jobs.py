"""Job I/O shared by processing and training: inputs in, environment, the subprocess, logs.

A job is a subprocess of the engine's own Python, or a fork of the store's warm host
(pipeline/local/warm/) that sees the same, with the job's /opt/ml mapped onto its
folder in the store (pipeline/local/container_paths.py). Its output goes, merged, to the step's
log file and line by line to an optional listener.
"""

from __future__ import annotations

import collections
import ctypes
import os
import signal
import site
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pipeline.local.container_paths import host_path, map_args, map_env
from pipeline.local.sandbox import PYTHON_NAMES, own_file
from pipeline.local.store.objects import ObjectStore

# What SageMaker's framework images set for Python (the pytorch-training Dockerfile's ENV).
_IMAGE_PYTHON = {
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "PYTHONIOENCODING": "UTF-8",
}
_HOST_NAMES = frozenset({"PATH", "LANG", "LANGUAGE", "TZ", "LD_LIBRARY_PATH", "TMPDIR"})
_TAIL_LINES = 5
MESSAGE_LIMIT = 1024
JOB_STOP_GRACE_S = 5.0
_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


_LIVE: set[Any] = set()  # this process's running jobs (parallel steps run them in threads)
_LIVE_LOCK = threading.Lock()


@dataclass(frozen=True)
class JobRun:
    """How a job's process ended, with its last lines for a failure reason; ``start_errno``
    is set when it could not even start (the OSError's errno)."""

    exit_code: int
    tail: tuple[str, ...]
    start_errno: int | None = None


def fetch_input(objects: ObjectStore, uri: str, container_path: str, job_root: Path) -> Path:
    """Copy an S3 input into the job's folder; ValueError when there is nothing to copy."""
    dest = host_path(container_path, job_root)
    dest.mkdir(parents=True, exist_ok=True)
    if objects.download(uri, dest) == 0:
        raise ValueError(f"input {uri} has no objects in the local store")
    return dest


def job_environment(job_env: Mapping[str, str], job_root: Path) -> dict[str, str]:
    """The process environment a container would give: a clean base, then the job's (mapped).

    A SageMaker job never sees its caller's environment, so only what running a program
    needs comes from ours (host_basics): none of the caller's AWS_* credentials, profile or
    endpoint URL, MOONPIPE_* settings, PYTHONPATH or VIRTUAL_ENV reach a job. HOME is a
    folder of the job's own, so nothing reads the caller's ~/.aws or ~/.config. Python runs
    unbuffered in UTF-8 as in SageMaker's images (log lines arrive live and in order for the
    metric regexes); the job's Environment may override that, as it overrides an image's.
    Threads default to one (tiny models run slower with two here). The engine's interpreter
    directory goes first on PATH so shell wrappers that call ``python`` (FrameworkProcessor's
    runproc.sh) get the same interpreter as the engine.
    """
    home = job_root / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {**host_basics(os.environ), **_IMAGE_PYTHON, "HOME": str(home)}
    env.update(map_env({k: str(v) for k, v in job_env.items()}, job_root))
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(job_env.get(name, "1"))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def host_environment() -> dict[str, str]:
    """The environment of the warm job host: what every job's starts from, one thread each.

    Each forked job replaces it with its own (job_environment); this only governs what the
    host's imports see (thread counts are read when torch and numpy load).
    """
    env = {**host_basics(os.environ), **_IMAGE_PYTHON, "OMP_NUM_THREADS": "1"}
    env["MKL_NUM_THREADS"] = "1"
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def host_basics(caller: Mapping[str, str]) -> dict[str, str]:
    """What a job needs from the caller's environment to run at all, and nothing else.

    PATH finds the shell tools a wrapper script calls; LANG/LC_*/TZ keep text and time as
    the user has them; LD_LIBRARY_PATH may be what lets our interpreter load; TMPDIR stays
    the machine's because a job-folder path is too long for the Unix sockets Python's
    multiprocessing creates there (measured: multiprocessing.Manager() fails). Without a
    virtual environment, the user site-packages the engine imports from stay visible
    although HOME moves.
    """
    kept = {k: v for k, v in caller.items() if k in _HOST_NAMES or k.startswith("LC_")}
    if site.ENABLE_USER_SITE and site.USER_SITE in sys.path:
        kept["PYTHONUSERBASE"] = site.getuserbase()
    return kept


def command(argv: Sequence[str], job_root: Path) -> list[str]:
    """Map container paths in ``argv``; a bare python interpreter becomes ours."""
    mapped = map_args(list(argv), job_root)
    if mapped and mapped[0] in PYTHON_NAMES:
        mapped[0] = sys.executable
    return mapped


def run_job(
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    on_line: Callable[[str], None] | None = None,
    starter: Any = None,
) -> JobRun:
    """Run the job to its end, merging stdout and stderr into ``log_path``.

    ``starter`` (a pipeline.local.warm WarmStarter) forks the job from the warm host when it
    can run this command; else, or when the host fails, the job is a plain subprocess.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
    with log_path.open("a", encoding="utf-8") as log:
        try:
            proc = _start(argv, env, cwd, starter)
        except OSError as err:
            log.write(f"could not start {argv[0]}: {err}\n")
            return JobRun(127, (f"could not start {argv[0]}: {err.strerror}",), err.errno)
        with _LIVE_LOCK:
            _LIVE.add(proc)
        try:
            _follow(proc, log, tail, on_line)
        except BaseException:  # Ctrl-C, SIGTERM or --stop: the job must not outlive the run
            stop_job(proc)
            log.write("job stopped: the execution was interrupted or stopped\n")
            raise
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(proc)
        return JobRun(proc.wait(), tuple(tail))


def stop_live_jobs() -> None:
    """Stop every job this process still runs (SIGTERM, SIGKILL after the grace), at once.

    For an interruption that reaches the main thread while parallel steps run their jobs in
    other threads: each job's end unblocks the thread that follows it.
    """
    with _LIVE_LOCK:
        live = list(_LIVE)
    stoppers = [threading.Thread(target=stop_job, args=(proc,)) for proc in live]
    for thread in stoppers:
        thread.start()
    for thread in stoppers:
        thread.join()


def _start(argv: Sequence[str], env: Mapping[str, str], cwd: Path, starter: Any) -> Any:
    """A warm job when the starter can run it, else a subprocess (OSError: cannot start)."""
    if starter is not None and starter.can_run(argv, cwd):
        try:
            return starter.start(argv, env, cwd)
        except RuntimeError:  # WarmHostError: the plain path still works
            pass
    return subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        bufsize=1,
        preexec_fn=_die_with_runner if _LIBC is not None else None,
    )


def _die_with_runner() -> None:
    """In the job, before exec: the kernel kills the job if the runner dies (even SIGKILL).

    Else a killed run would leave its job computing (and holding memory) for nobody.
    """
    assert _LIBC is not None
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _follow(
    proc: subprocess.Popen[str],
    log: TextIO,
    tail: collections.deque[str],
    on_line: Callable[[str], None] | None,
) -> None:
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


def failure_reason(message_file: Path, run: JobRun, job_root: Path) -> str:
    """The job's own message (first 1 KB), else its exit code and last output lines.

    A message file that leads out of the job's folder (a link, a hard link) is not read:
    it would put the first kilobyte of a host file into the step's record.
    """
    note = ""
    if message_file.is_file():
        if own_file(message_file, job_root):
            with message_file.open("rb") as handle:
                text = handle.read(MESSAGE_LIMIT).decode("utf-8", "replace").strip()
            if text:
                return text
        else:
            note = f" ({message_file.name} leads out of the job folder; not read)"
    last = " | ".join(run.tail) if run.tail else "no output"
    return f"exit code {run.exit_code}; last output: {last}{note}"
