"""Executions that end without finishing: killed runners, Ctrl-C, SIGTERM and ``--stop``.

One live process *holds* an execution from the moment its record first says ``Executing``
until the record says how it ended: it holds ``executions/<id>/runner.lock`` (an flock the
kernel drops however the process ends, SIGKILL included) and the record names it, first as
its ``starter`` (the process that recorded it: --start, --retry, a sweep handing it to a
worker) and then as its ``runner`` (the process running its steps). The lock is taken before
the record is written and let go only after the end is recorded, so whoever can take the
lock knows nobody holds the execution: any reader (describe, list, run, stop, the report
follower) settles such a record, Failed or (after a --stop) Stopped, and the step it was
running with it. Nothing stays "Executing" without a live process able to end it, and only
the holder writes the record, re-reading it first.

``--stop`` from another process writes ``executions/<id>/stop.json``, then signals the
runner the record names, re-reading it until the lock is free: a starter names itself the
runner before it looks for stop.json, so the runner sees the request or the stopper sees the
runner. (A starter that has not become the runner after a second is signalled too; a sweep
is its points' starter only while it hands each to its worker, with signals held.) The
runner stops its job (SIGTERM, then SIGKILL after a grace period) and records Stopped, as
SageMaker's StopPipelineExecution does; a holder that does not let go in time is killed.
Ctrl-C and SIGTERM (which the CLI and the sweep's workers turn into KeyboardInterrupt) end
the execution Stopped too, at whatever moment they arrive; after a SIGKILL the next reader
ends it Failed. While the holder records the end, Ctrl-C and SIGTERM wait
(:func:`deferred_interrupts`), so the record is never left half-ended.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pipeline.core.errors import MoonpipeError, StoreWriteError
from pipeline.core.names import utc_now
from pipeline.core.status import Status, is_active
from pipeline.local.liveness import (
    acquire,
    is_held,
    owner_alive,
    owner_of_this_process,
    signal_owner,
    start_token,
)
from pipeline.local.store.atomic import write_failure, write_json
from pipeline.local.store.records import ExecutionRecord, Records

STOP_GRACE_S = 30.0  # the runner's own job grace (jobio) is shorter, so it normally wins
SETTLE_WAIT_S = 10.0  # how long a reader waits for a holder it cannot see to let go
STARTER_GRACE_S = 1.0  # a starter names itself the runner in ms; a stop signals it after this
RESERVE_BYTES = 256 * 1024  # kept free by a runner, to record its end on a full disk
STOPPED_BY_STOP = "stopped by --stop before it finished"
_POLL_S = 0.02
_INTERRUPTS = {signal.SIGINT, signal.SIGTERM}


class ExecutionNotStoppableError(MoonpipeError):
    """--stop of an execution that already ended (SageMaker: a ValidationException)."""


# -- holding an execution ------------------------------------------------------------------


@dataclass
class Claim:
    """This process's hold on one execution: the descriptor holding its runner lock."""

    records: Records
    execution_id: str
    fd: int
    running: bool = False  # this process has named itself the runner

    @property
    def lock(self) -> Path:
        """The lock file it holds."""
        return _lock_path(self.records, self.execution_id)

    def release(self) -> None:
        """Let go (the lock stays held while a worker that inherited it lives)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        _HELD.pop(self.lock, None)


_HELD: dict[Path, Claim] = {}


def _lock_path(records: Records, execution_id: str) -> Path:
    return records.layout.runner_lock(execution_id)


def hold(records: Records, execution_id: str) -> Claim:
    """This process's hold on the execution: the one it has, or a new one taken now.

    Raises:
        MoonpipeError: another live process holds it.
    """
    lock = _lock_path(records, execution_id)
    if lock in _HELD:
        return _HELD[lock]
    fd = acquire(lock)
    if fd is None:
        raise MoonpipeError(
            f"execution {execution_id} is already being run by another process; "
            "follow it with --describe-execution"
        )
    return _register(Claim(records, execution_id, fd))


def adopt(records: Records, execution_id: str, fd: int) -> Claim:
    """Hold the execution through a lock descriptor inherited from the process that held it
    (a sweep's worker, handed its point by :func:`hand_over`)."""
    return _register(Claim(records, execution_id, fd))


def held_here(records: Records, execution_id: str) -> Claim | None:
    """This process's hold on the execution, if it has one."""
    return _HELD.get(_lock_path(records, execution_id))


def hand_over(claim: Claim, pid: int) -> None:
    """Name process ``pid`` (which inherited the lock descriptor) the execution's starter,
    then let go: the lock never leaves the hands of a live process named in the record."""
    data = claim.records.execution(claim.execution_id)
    data.starter = {"pid": pid, "start_token": start_token(pid)}
    claim.records.save_execution(data)
    claim.release()


def _register(claim: Claim) -> Claim:
    if not _HELD:
        atexit.unregister(end_held)  # at most once
        atexit.register(end_held)
    _HELD[claim.lock] = claim
    return claim


def _forget_held_in_child() -> None:
    """A forked child holds nothing of its parent's (a worker adopts its own point)."""
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_held_in_child)


def end_held() -> None:
    """At exit: every execution this process still holds and never ran ends Stopped (the
    process was interrupted, or ended, between recording it and running it)."""
    for claim in list(_HELD.values()):
        with contextlib.suppress(Exception):
            data = claim.records.execution(claim.execution_id)
            if is_active(data.status):
                pid = os.getpid()
                status, reason = outcome(
                    claim.records,
                    data,
                    f"the process that started it (pid {pid}) ended before running it",
                    interrupted=True,
                )
                close_execution(claim.records, claim.execution_id, status, reason)
        claim.release()


# -- running ---------------------------------------------------------------------------------


def begin_run(claim: Claim) -> ExecutionRecord | None:
    """Name this process the runner, then look for a --stop; the record to run, or None
    when it must not run (it has ended, or a --stop came first: then it ends Stopped).

    The order is the stop protocol's half (see the module docstring): the name is written
    before stop.json is looked for.
    """
    records, execution_id = claim.records, claim.execution_id
    data = records.execution(execution_id)  # re-read under the hold
    if not is_active(data.status):
        return None
    data.ran, data.runner, data.starter = True, owner_of_this_process(), None
    with deferred_interrupts():
        records.save_execution(data)
    claim.running = True
    if not records.layout.space_reserve(execution_id).exists():  # kept from its start
        with contextlib.suppress(StoreWriteError):
            keep_reserve(records, execution_id)
    if stop_requested(records, execution_id):
        close_execution(records, execution_id, Status.STOPPED, "stopped by --stop before it ran")
        return None
    return data


def keep_reserve(records: Records, execution_id: str) -> None:
    """Set space aside for recording how the run ends (freed by :func:`free_reserve` just
    before): a run that fills the disk still records why it ended.

    Raises:
        StoreWriteError: the disk is already too full to hold it (nothing should start).
    """
    path = records.layout.space_reserve(execution_id)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            _allocate(fd, RESERVE_BYTES)
        finally:
            os.close(fd)
    except OSError as err:
        with contextlib.suppress(OSError):
            path.unlink()
        failure = write_failure(path, err)
        if failure is None:
            raise
        raise StoreWriteError(
            f"cannot start execution {execution_id}: {str(failure).split(': ', 1)[1]} (a run "
            f"keeps {RESERVE_BYTES // 1024} KB free for recording how it ends)"
        ) from None


def _allocate(fd: int, size: int) -> None:
    """Give the file ``size`` bytes of disk now (zeros where the file system cannot
    allocate without writing)."""
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as err:
        if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
            raise
        os.pwrite(fd, bytes(size), 0)


def free_reserve(records: Records, execution_id: str) -> None:
    """Give the reserved space back (before the end's writes, which may need it)."""
    with contextlib.suppress(OSError, ValueError):
        records.layout.space_reserve(execution_id).unlink(missing_ok=True)


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back for the block (a record's few writes); they arrive
    right after it. Only the main thread receives them, so elsewhere nothing is held."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def allow_interrupts() -> None:
    """Let Ctrl-C and SIGTERM in (a worker forked or spawned while they were held)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _INTERRUPTS)


def stop_requested(records: Records, execution_id: str) -> bool:
    """True once someone ran --stop on this execution."""
    return records.layout.stop_request(execution_id).is_file()


def outcome(
    records: Records, data: ExecutionRecord, how: str, interrupted: bool = False
) -> tuple[str, str]:
    """(status, reason) for an execution that ended before it finished; ``how`` says what
    happened. A --stop or an interruption (Ctrl-C, SIGTERM) is Stopped, anything else
    Failed; both can be resumed with --retry."""
    execution_id = data.execution_id
    if stop_requested(records, execution_id):
        return Status.STOPPED, (STOPPED_BY_STOP if data.ran else "stopped by --stop before it ran")
    status = Status.STOPPED if interrupted else Status.FAILED
    return status, f"{how}; resume it with --retry {execution_id}"


def outcome_of_error(
    records: Records, data: ExecutionRecord, exc: BaseException
) -> tuple[str, str]:
    """(status, reason) for a run that ``exc`` ended: Ctrl-C or SIGTERM, a store that could
    not be written, or anything else the run raised."""
    if isinstance(exc, KeyboardInterrupt):
        return outcome(records, data, "interrupted (Ctrl-C or SIGTERM) before it finished", True)
    if isinstance(exc, StoreWriteError):
        return outcome(records, data, str(exc))
    if isinstance(exc, MoonpipeError):
        return outcome(records, data, f"the run stopped: {exc}")
    return outcome(records, data, f"the run stopped on an error ({type(exc).__name__}: {exc})")


def close_execution(records: Records, execution_id: str, status: str, reason: str | None) -> None:
    """End the execution and every step still running with ``status`` and ``reason``.

    Called by the holder (or a reader that took the free lock): the record is re-read here
    and the reserved space freed first, so the writes fit on a disk the run filled.
    """
    free_reserve(records, execution_id)
    data = records.execution(execution_id)
    ended = utc_now()
    with deferred_interrupts():
        for record, properties in records.steps(execution_id):
            if is_active(record.status):
                closed = replace(record, status=status, ended_at=ended, failure_reason=reason)
                records.save_step(execution_id, closed, properties)
        data.status, data.failure_reason, data.ended_at = status, reason, ended.isoformat()
        records.save_execution(data)


def finish(records: Records, execution_id: str, status: str, reason: str | None) -> None:
    """Record how a run that went to its end ended (the holder, re-reading the record)."""
    free_reserve(records, execution_id)
    with deferred_interrupts():
        data = records.execution(execution_id)
        data.status, data.failure_reason = status, reason
        data.ended_at = utc_now().isoformat()
        records.save_execution(data)


# -- reading: settle ---------------------------------------------------------------------------


def claimed(data: ExecutionRecord) -> bool:
    """True while the record says it has not ended (some process must hold it)."""
    return is_active(data.status)


def settle(records: Records, execution_id: str, wait_s: float = SETTLE_WAIT_S) -> ExecutionRecord:
    """The execution's record, ended first if nobody holds it any more.

    A record that has not ended and whose lock is free was left by a process that is gone
    (see the module docstring). While the lock is held and the record names a live holder,
    it is left as it is. When the lock is held but the holder named is gone, another reader
    is settling it (or a worker is taking it over): the record is read again until either
    changes, for at most ``wait_s``.
    """
    data = records.execution(execution_id)
    if not claimed(data) or held_here(records, execution_id) is not None:
        return data
    deadline = time.monotonic() + wait_s
    while True:
        fd = acquire(_lock_path(records, execution_id))
        if fd is not None:
            try:
                return _close_if_still_running(records, execution_id)
            finally:
                os.close(fd)
        data = records.execution(execution_id)
        owner = data.runner or data.starter
        if not claimed(data) or owner is None or owner_alive(owner):
            return data
        if time.monotonic() > deadline:
            return data
        time.sleep(_POLL_S)


def _close_if_still_running(records: Records, execution_id: str) -> ExecutionRecord:
    """Holding the free lock: end the record if it still says it has not ended."""
    data = records.execution(execution_id)  # it may have ended meanwhile
    if claimed(data):
        status, reason = outcome(records, data, _holder_gone(data))
        close_execution(records, execution_id, status, reason)
        data = records.execution(execution_id)
    return data


def _holder_gone(data: ExecutionRecord) -> str:
    """What happened to the process that held an execution whose lock is free."""
    if data.runner:
        pid = data.runner.get("pid")
        return f"the process running this execution (pid {pid}) ended before it finished (killed?)"
    if data.starter:
        pid = data.starter.get("pid")
        return f"the process that started it (pid {pid}) ended before running it (killed?)"
    if data.ran:
        return "the process running this execution stopped before it finished"
    return "no process ever ran it (recorded by an older version whose process ended)"


# -- stop ------------------------------------------------------------------------------------------


def stop(records: Records, execution_id: str, grace_s: float = STOP_GRACE_S) -> None:
    """Ask the holder to stop, wait for it to let go, kill it if it does not; then settle."""
    data = settle(records, execution_id)
    if not is_active(data.status):
        raise ExecutionNotStoppableError(
            f"cannot stop execution {execution_id}: it is already {data.status} "
            "(only an Executing execution can be stopped)"
        )
    write_json(
        records.layout.stop_request(execution_id),
        {"requested_at": utc_now().isoformat(), "by": owner_of_this_process()},
    )
    mine = held_here(records, execution_id)
    if mine is not None and not mine.running:  # recorded here, not run: it ends now
        close_execution(records, execution_id, Status.STOPPED, "stopped by --stop before it ran")
        mine.release()
        return
    _signal_until_let_go(records, execution_id, grace_s)
    settle(records, execution_id)


def _signal_until_let_go(records: Records, execution_id: str, grace_s: float) -> None:
    """SIGTERM each runner the record names while the lock is held (a starter once it had
    :data:`STARTER_GRACE_S` to become the runner); SIGKILL the holder after ``grace_s``."""
    lock, signalled = _lock_path(records, execution_id), set()
    begun = time.monotonic()
    deadline = begun + grace_s
    killed_at: float | None = None
    while is_held(lock):
        data = records.execution(execution_id)
        if not is_active(data.status):
            return  # its end is recorded; the lock goes next
        now = time.monotonic()
        owner = data.runner or (data.starter if now > begun + STARTER_GRACE_S else None)
        if owner and owner.get("pid") != os.getpid() and _key(owner) not in signalled:
            signal_owner(owner, signal.SIGTERM)
            signalled.add(_key(owner))
        if killed_at is None and now > deadline:
            for owner in (data.runner, data.starter):
                if owner and owner.get("pid") != os.getpid():
                    signal_owner(owner, signal.SIGKILL)
            killed_at = now
        if killed_at is not None and now > killed_at + 5:
            return
        time.sleep(0.05)


def _key(owner: dict[str, Any]) -> tuple[Any, Any]:
    return owner.get("pid"), owner.get("start_token")
