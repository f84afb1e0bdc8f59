"""Is the process that owns a record still there? Answered with held locks, not with pids.

A runner (or a deployer) holds an ``fcntl.flock`` on its lock file for as long as it works;
the kernel drops the lock the moment the process ends, however it ends (SIGKILL included).
So "the lock can be taken" means "its owner is gone", and pid reuse cannot fool it. The
owner's pid and its kernel start time are recorded too, only so another process can signal
*that* process (``--stop``) without ever signalling a stranger who got the same pid.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.local.store.atomic import write_failure


def _open_lock(path: Path) -> int:
    """The lock file, opened (and made, in a writable store); a read-only store's existing
    lock files are opened read-only, which flock takes as well."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as err:
        if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM) and path.exists():
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        failure = write_failure(path, err)  # a read-only or full store: one line
        if failure is None:
            raise
        raise failure from None


def acquire(path: Path) -> int | None:
    """Take the exclusive lock on ``path`` if it is free: the descriptor that holds it (the
    lock lasts until every copy of it is closed, a forked child's too), else None."""
    fd = _open_lock(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def try_lock(path: Path) -> Iterator[bool]:
    """Hold an exclusive lock on ``path`` for the block if it is free; yields whether it was."""
    fd = _open_lock(path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def is_held(path: Path) -> bool:
    """True while some live process holds the lock on ``path``."""
    if not path.exists():
        return False
    with try_lock(path) as acquired:
        return not acquired


def start_token(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat).

    With the pid it names one process for the machine's uptime; None without procfs or
    when the process is gone.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def owner_of_this_process() -> dict[str, Any]:
    """What a record keeps about the process that owns it."""
    return {"pid": os.getpid(), "start_token": start_token(os.getpid())}


def owner_alive(owner: Any) -> bool:
    """True while the recorded owner is still that very process (pid and start time agree)."""
    if not isinstance(owner, dict) or not isinstance(owner.get("pid"), int):
        return False
    token = start_token(owner["pid"])
    return token is not None and token == owner.get("start_token")


@contextlib.contextmanager
def waited_lock(path: Path) -> Iterator[None]:
    """Hold the lock on ``path``, waiting for whoever holds it now (a short critical section)."""
    fd = _open_lock(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def signal_owner(owner: Any, signum: int = signal.SIGTERM) -> bool:
    """Send ``signum`` to the recorded owner if it is still that very process; True if sent."""
    if not isinstance(owner, dict) or not isinstance(owner.get("pid"), int):
        return False
    pid = owner["pid"]
    token = start_token(pid)
    if token is None or token != owner.get("start_token"):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
        return True
    return False
