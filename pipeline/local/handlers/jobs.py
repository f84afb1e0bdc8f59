"""Job I/O shared by processing and training: inputs in, environment, the job's processes, logs.

A job runs its command the way SageMaker's container would. With namespaces of its own
(pipeline/local/runtime/) ``/opt/ml`` is the job's folder at its real path, so the command,
environment and working folder are used exactly as the definition spells them; in the
fallback they are mapped onto the folder (pipeline/local/container_paths.py). Each host of the
job (InstanceCount) is a process: a fork of the store's warm host when it can run the command,
else a subprocess of the engine's Python. Their output goes, merged, to the step's log (0600)
and line by line to an optional listener; StoppingCondition's limit applies while they run.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import os
import queue
import signal
import site
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pipeline.local.container_paths import CONTAINER_ROOT, host_path, map_args, map_env
from pipeline.local.runtime.errors import NamespaceError
from pipeline.local.runtime.hosts import Host, host_addresses, shard
from pipeline.local.runtime.limits import Limit, Watch
from pipeline.local.runtime.mode import JobRuntime
from pipeline.local.runtime.namespace import JobView, enter
from pipeline.local.runtime.network import NetworkShare, share_network
from pipeline.local.sandbox import PYTHON_NAMES, own_file
from pipeline.local.store.objects import ObjectStore, parse_s3_uri

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
CONTAINER_HOME = "/root"  # HOME in SageMaker's framework images
_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
_LIVE: set[Any] = set()  # this process's running jobs (parallel steps run them in threads)
_LIVE_LOCK = threading.Lock()
# Set once this process has started a job: from then on the caller mostly waits on it, and
# work that can wait for a free thread (the report's templates) no longer delays a job.
A_JOB_STARTED = threading.Event()


def wait_for_a_job(ending: threading.Event) -> bool:
    """Block until a job of this process has started (True) or ``ending`` is set (False):
    work a run needs later is done then, while its main thread waits on the job."""
    while not A_JOB_STARTED.wait(0.01):
        if ending.is_set():
            return False
    return True


@dataclass(frozen=True)
class JobCommand:
    """What a job runs, spelled as in the container: argv, its own environment variables
    (the definition's Environment plus the toolkit's SM_*), the folder it starts in, and
    the image it names (the warm host forks a scikit-learn image's job from its lane)."""

    argv: Sequence[str]
    env: Mapping[str, str]
    cwd: str = CONTAINER_ROOT
    image: str | None = None  # the container image (which of the warm host's lanes)


@dataclass(frozen=True)
class JobRun:
    """How a job ended: the exit code that decides it (the first failing host's, else 0),
    its last lines for a failure reason, whether MaxRuntimeInSeconds stopped it, and the
    index of the host whose exit code it is."""

    exit_code: int
    tail: tuple[str, ...]
    over_limit: bool = False
    host: int = 0
    start_errno: int | None = None  # set when it could not even start (OSError's errno)


@dataclass(frozen=True)
class _Launch:
    """One host's process as it will be started: argv, environment and folder as the process
    sees them, its namespace view (None: paths mapped), and the host file of the script the
    warm host would run (None: not a ``python SCRIPT.py`` command)."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    view: JobView | None
    script: Path | None
    image: str | None = None


def fetch_input(
    objects: ObjectStore,
    uri: str,
    container_path: str,
    host: Host,
    hosts: Sequence[Host] = (),
    distribution: Any = None,
) -> Path:
    """Copy an S3 input into the host's folder (its shard of it, for ``ShardedByS3Key``);
    ValueError when there is nothing to copy."""
    dest = host_path(container_path, host.root)
    dest.mkdir(parents=True, exist_ok=True)
    if len(hosts) <= 1 or distribution != "ShardedByS3Key":
        if objects.download(uri, dest) == 0:
            raise ValueError(f"input {uri} has no objects in the local store")
        return dest
    mine = shard(objects.list_prefix(uri), host, hosts, distribution)
    if not mine:
        raise ValueError(f"input {uri} has no object for {host.name} (ShardedByS3Key)")
    prefix, one_object = parse_s3_uri(uri), objects.path(uri).is_file()
    for relative, _ in mine:
        single = prefix if one_object else prefix.child(relative)
        objects.download(str(single), (dest / relative).parent)
    return dest


def private_folder(path: Path) -> Path:
    """Make ``path`` (a job's folder) a folder only its user may enter (0700)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def job_environment(
    job_env: Mapping[str, str],
    job_root: Path,
    namespaces: bool = False,
    layer: Path | None = None,
) -> dict[str, str]:
    """The process environment a container would give: a clean base, then the job's own.

    A SageMaker job never sees its caller's environment, so only what running a program
    needs comes from ours (host_basics): none of the caller's AWS_* credentials, profile or
    endpoint URL, MOONPIPE_* settings, PYTHONPATH or VIRTUAL_ENV reach a job. Python runs
    unbuffered in UTF-8 as in SageMaker's images (log lines arrive live and in order for the
    metric regexes); the job's Environment may override that, as it overrides an image's.
    Threads default to one (tiny models run slower with two here). The engine's interpreter
    directory goes first on PATH so shell wrappers that call ``python`` (FrameworkProcessor's
    runproc.sh) get the same interpreter as the engine; a requirements layer goes first on
    PYTHONPATH.

    With ``namespaces`` the job's variables are used as written and HOME is the image's
    (/root, a private folder inside); /tmp is private there, so TMPDIR is not passed. In the
    fallback container paths are mapped onto ``job_root`` and HOME is a folder of the job's
    own, so nothing reads the caller's ~/.aws or ~/.config.
    """
    env = {**host_basics(os.environ), **_IMAGE_PYTHON}
    if namespaces:
        env.pop("TMPDIR", None)
        env["HOME"] = CONTAINER_HOME
        env.update({k: str(v) for k, v in job_env.items()})
    else:
        home = job_root / "home"
        home.mkdir(parents=True, exist_ok=True)
        env["HOME"] = str(home)
        env.update(map_env({k: str(v) for k, v in job_env.items()}, job_root))
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(job_env.get(name, "1"))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    if layer is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(layer), env.get("PYTHONPATH")) if p)
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
    the machine's in the fallback because a job-folder path is too long for the Unix sockets
    Python's multiprocessing creates there (measured: multiprocessing.Manager() fails).
    Without a virtual environment, the user site-packages the engine imports from stay
    visible although HOME moves.
    """
    kept = {k: v for k, v in caller.items() if k in _HOST_NAMES or k.startswith("LC_")}
    if site.ENABLE_USER_SITE and site.USER_SITE in sys.path:
        kept["PYTHONUSERBASE"] = site.getuserbase()
    return kept


def command(argv: Sequence[str], job_root: Path | None) -> list[str]:
    """``argv`` as the process gets it: container paths mapped onto ``job_root`` (None: the
    job has namespaces, nothing is mapped); a bare python interpreter becomes ours."""
    mapped = list(argv) if job_root is None else map_args(list(argv), job_root)
    if mapped and mapped[0] in PYTHON_NAMES:
        mapped[0] = sys.executable
    return mapped


def run_job(
    jobs: Sequence[tuple[Host, JobCommand]],
    log_path: Path,
    runtime: JobRuntime,
    on_line: Callable[[str], None] | None = None,
    *,
    network: bool = True,
    limit: Limit | None = None,
    layer: Path | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> JobRun:
    """Run the job on every host (its command there) to its end, merging their output
    into ``log_path``.

    Hosts after the first have their lines marked ``[algo-N]``. When a host fails the
    others are stopped (SageMaker ends a job whose instance failed). ``network`` False is
    EnableNetworkIsolation (loopback only, with namespaces); ``limit`` the job's
    StoppingCondition; ``layer`` a requirements.txt layer (first on PYTHONPATH).
    ``meanwhile``: work the step needs only once the job has ended, called exactly once,
    as soon as the job runs (its output waits in a queue), or before a start failure
    returns: the run's main thread would otherwise do it while the job's core waits.
    """
    limit = limit or Limit(grace_s=runtime.grace_s)
    hosts = [host for host, _ in jobs]
    tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
    with _private_log(log_path) as log, _shared_network(runtime, hosts, network) as share:
        procs: list[Any] = []
        try:
            for host, job in jobs:
                launch = _launch(job, host, hosts, runtime, network, share, layer)
                procs.append(_start(launch, runtime, layer))
        except (OSError, NamespaceError) as err:
            for proc in procs:
                stop_job(proc)
            if meanwhile is not None:
                meanwhile()
            program = jobs[0][1].argv[0] if jobs[0][1].argv else "the job"
            log.write(f"could not start {program}: {err}\n")
            line = f"could not start {program}: {err.strerror or err}"
            return JobRun(127, (line,), start_errno=err.errno)
        watches = [Watch(proc, limit) for proc in procs]
        with _LIVE_LOCK:
            _LIVE.update(procs)
        A_JOB_STARTED.set()
        try:
            if meanwhile is not None:
                meanwhile()
            codes = _follow(procs, hosts, log, tail, on_line)
        except BaseException:  # Ctrl-C, SIGTERM or --stop: the job must not outlive the run
            for proc in procs:
                stop_job(proc)
            log.write("job stopped: the execution was interrupted or stopped\n")
            raise
        finally:
            for watch in watches:
                watch.end()
            with _LIVE_LOCK:
                _LIVE.difference_update(procs)
    failing = next((i for i, code in enumerate(codes) if code != 0), 0)
    over = any(watch.over_limit for watch in watches)
    return JobRun(codes[failing], tuple(tail), over, failing)


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


@contextlib.contextmanager
def _private_log(log_path: Path) -> Iterator[TextIO]:
    """The step's log, appended to, readable by its user only (0600 in a 0700 folder)."""
    private_folder(log_path.parent)
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    with open(fd, "a", encoding="utf-8") as log:
        yield log


@contextlib.contextmanager
def _shared_network(
    runtime: JobRuntime, hosts: Sequence[Host], network: bool
) -> Iterator[NetworkShare | None]:
    """Under network isolation the hosts of one job share one loopback-only network."""
    share = None
    if runtime.namespaces and len(hosts) > 1 and not network:
        share = share_network(isolated=True)
    try:
        yield share
    finally:
        if share is not None:
            share.close()


def _launch(
    job: JobCommand,
    host: Host,
    hosts: Sequence[Host],
    runtime: JobRuntime,
    network: bool,
    share: NetworkShare | None,
    layer: Path | None,
) -> _Launch:
    env = job_environment(job.env, host.root, runtime.namespaces, layer)
    if not runtime.namespaces:
        argv, cwd = command(job.argv, host.root), str(host_path(job.cwd, host.root))
        return _Launch(argv, env, cwd, None, _script(argv, Path(cwd)), job.image)
    argv = command(job.argv, None)
    view = JobView(
        job_root=host.root,
        home=CONTAINER_HOME,
        network=network,
        share=share,
        hostname=host.name,
        hosts=host_addresses(hosts) if len(hosts) > 1 else {},
        keep=runtime.kept(layer),
        hide=runtime.hidden(),
    )
    script = _script(argv, host_path(job.cwd, host.root), host)
    return _Launch(argv, env, job.cwd, view, script, job.image)


def _script(argv: Sequence[str], cwd: Path, host: Host | None = None) -> Path | None:
    """The host file of ``SCRIPT`` in ``<our python> SCRIPT.py ...`` (with namespaces a
    container path, found in the host's folder), else None."""
    if len(argv) < 2 or argv[0] != sys.executable or argv[1].startswith("-"):
        return None
    script = argv[1]
    if host is not None and script.startswith("/"):
        try:
            return host_path(script, host.root)
        except ValueError:
            return None
    return cwd / script


def _start(launch: _Launch, runtime: JobRuntime, layer: Path | None) -> Any:
    """A warm job when the host can run it, else a subprocess (OSError: cannot start)."""
    starter = runtime.starter
    if (
        starter is not None
        and launch.script is not None
        and starter.can_run(launch.argv, launch.script)
        and not starter.shadowed_by(layer)
    ):
        try:
            lane = starter.lane_of(launch.image)
            return starter.start(launch.argv, launch.env, launch.cwd, launch.view, lane)
        except RuntimeError:  # WarmHostError: the plain path still works
            pass
    view, cwd = launch.view, launch.cwd
    return subprocess.Popen(
        launch.argv,
        cwd=None if view is not None else cwd,
        env=launch.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        bufsize=1,
        preexec_fn=(lambda: _enter_job(view, cwd)) if view is not None else _die_with_runner,
    )


def _enter_job(view: JobView, cwd: str) -> None:
    """In the subprocess, before exec: its namespaces (the caller stays outside as the
    job's supervisor), then its working folder as the container names it."""
    enter(view)
    os.chdir(cwd)


def _die_with_runner() -> None:
    """In the job, before exec: the kernel kills the job if the runner dies (even SIGKILL).

    Else a killed run would leave its job computing (and holding memory) for nobody.
    """
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _follow(
    procs: Sequence[Any],
    hosts: Sequence[Host],
    log: TextIO,
    tail: collections.deque[str],
    on_line: Callable[[str], None] | None,
) -> list[int]:
    """Log every host's lines as they come; each host's exit code once its output ends.

    One reader thread per host; when a host fails, the others are stopped (SIGTERM).
    """
    lines: queue.Queue[tuple[int, str | None]] = queue.Queue()
    for index, proc in enumerate(procs):
        threading.Thread(target=_read, args=(proc, index, lines), daemon=True).start()
    codes: dict[int, int] = {}
    while len(codes) < len(procs):
        index, line = lines.get()
        if line is None:
            codes[index] = procs[index].wait()
            if codes[index] != 0:
                for other, proc in enumerate(procs):
                    if other not in codes:
                        proc.terminate()
            continue
        text = line.rstrip("\n")
        if index:
            text = f"[{hosts[index].name}] {text}"
        log.write(text + "\n")
        if text.strip():
            tail.append(text)
        if on_line is not None:
            on_line(text)
    return [codes[i] for i in range(len(procs))]


def _read(proc: Any, index: int, lines: queue.Queue[tuple[int, str | None]]) -> None:
    try:
        for line in proc.stdout:
            lines.put((index, line))
    except (OSError, ValueError):  # the stream was closed by a stop
        pass
    finally:
        lines.put((index, None))


def stop_job(proc: Any, grace_s: float = JOB_STOP_GRACE_S) -> None:
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
