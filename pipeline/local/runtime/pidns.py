"""A PID namespace per job: a minimal init as pid 1, the job as pid 2, a supervisor outside.

Why not the job as pid 1: the kernel drops every signal a namespace's init has no handler
for, so SIGTERM at MaxRuntimeInSeconds would be lost on a plain Python job. Why a
supervisor: the first process forked after unshare(CLONE_NEWPID) is the init, so the caller
of ``enter`` stays outside, forwards signals and exits as the job exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from typing import NoReturn

from pipeline.local.runtime import _linux as L

_FORWARDED = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGCONT,
    signal.SIGWINCH,
)


def fork_into_pid_namespace(report_fd: int | None = None) -> None:
    """Fork the job into the new PID namespace; the caller becomes its supervisor.

    The first process of a PID namespace is its init, and the kernel drops every signal an
    init has no handler for (a SIGTERM at MaxRuntimeInSeconds would be lost on a Python
    job). So pid 1 is ``cat`` (spawned with vfork: no copy of a large address space), and
    the job forked next is pid 2, an ordinary process. When init dies the kernel kills
    everything left in the namespace: nothing a job started outlives it.

    ``report_fd`` (the warm host's connection to the job's client): the supervisor writes
    the job's exit line there as soon as nothing of the job is left, before its own exit,
    which takes ~7 ms for a process forked from a host holding torch (its address space is
    torn down). The job itself never holds it.
    """
    init, lifeline = _spawn_init()
    pid = os.fork()
    if pid == 0:
        os.close(lifeline)
        if report_fd is not None:
            os.close(report_fd)
        L.die_with(0)
        os.setpgid(0, 0)  # the job's group: SIGTERM reaches the job and its children
        return
    _supervise(pid, init, lifeline, report_fd)


def _spawn_init() -> tuple[int, int]:
    """pid 1: ``cat`` reading a pipe only the supervisor writes to. When the supervisor
    dies (even by SIGKILL) the pipe closes, cat ends, and the kernel kills the namespace:
    no PR_SET_PDEATHSIG needed for a program we cannot prctl (posix_spawn runs no code)."""
    read_end, lifeline = os.pipe()  # both close-on-exec; the spawn dups read_end to 0
    null = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
    try:
        actions = [
            (os.POSIX_SPAWN_DUP2, read_end, 0),
            (os.POSIX_SPAWN_DUP2, null, 1),
            (os.POSIX_SPAWN_DUP2, null, 2),
        ]
        cat = next(p for p in ("/usr/bin/cat", "/bin/cat") if os.path.exists(p))
        return os.posix_spawn(cat, [cat], {}, file_actions=actions), lifeline
    finally:
        os.close(null)
        os.close(read_end)


def _supervise(job: int, init: int, lifeline: int, report_fd: int | None) -> NoReturn:
    """Forward signals to the job's process group; leave as the job left.

    The job ends when its top process ends (as a container ends with its entrypoint), and
    killing init then ends whatever it left running, except after a SIGTERM: the SIGTERM
    went to every process of the job, and a shell on top (runproc.sh) dies of it at once
    while the Python under it may still be saving its model. Then the supervisor waits
    until no process of the job is left (the engine's SIGKILL at the end of the grace
    period still ends everything).
    """
    _close_all_but(lifeline, report_fd)  # e.g. subprocess's exec-error pipe: Popen waits on it
    stopping = []

    def forward(sig: int, _frame: object) -> None:
        if sig == signal.SIGTERM:
            stopping.append(sig)
        _signal_group(job, sig)

    for sig in _FORWARDED:
        signal.signal(sig, forward)
    status = 0
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        if pid == job:
            break
    while stopping and _others_alive():
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(init, signal.SIGKILL)  # init gone: the kernel ends whatever the job left
    with contextlib.suppress(ChildProcessError):
        os.waitpid(init, 0)
    if report_fd is not None:
        _report(report_fd, status)
    _exit_like(status)


def _close_all_but(*kept: int | None) -> None:
    """Close every descriptor above stderr but ``kept``."""
    low = 3
    for fd in sorted(k for k in kept if k is not None):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, _max_fd())


def _report(report_fd: int, status: int) -> None:
    """The job's exit line to its client, once nothing of the job is left: the job's
    output is closed first (the supervisor's copies of it: the client reads it to its
    end before the exit code), then the line, as the host would have written it."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    with contextlib.suppress(OSError):
        os.write(report_fd, b'{"exit": %d}\n' % os.waitstatus_to_exitcode(status))
    os.close(report_fd)


def _others_alive() -> bool:
    """Whether a process of the job other than init is still running (our /proc is the
    job's: the supervisor shares its mount namespace, not its PID namespace)."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return False
    for name in names:
        if name.isdigit() and name != "1":
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    if f.read().rsplit(b")", 1)[1].split()[0] != b"Z":
                        return True
            except (OSError, IndexError):
                continue
    return False


def _signal_group(job: int, sig: int) -> None:
    try:
        os.killpg(job, sig)
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(job, sig)


def _exit_like(status: int) -> NoReturn:
    """Exit with the job's exit code, or die of the job's signal (same wait status)."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig not in (signal.SIGKILL, signal.SIGSTOP):  # those two take no handler
            signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


def _max_fd() -> int:
    try:
        return min(os.sysconf("SC_OPEN_MAX"), 1 << 20)
    except (OSError, ValueError):
        return 4096
