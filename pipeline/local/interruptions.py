"""Executions that end without finishing: killed runners, Ctrl-C, SIGTERM and ``--stop``.

The process running an execution (its *runner*) holds ``executions/<id>/runner.lock`` for as
long as it runs and records its pid and start time in ``execution.json``. Whoever reads an
execution next (describe, list, run, stop, the report) settles it: an ``Executing`` record
that a runner claimed and whose lock is free belongs to a runner that is gone, so it becomes
Failed (or Stopped, if a stop was asked for) and so does the step it was running. Nothing
stays "Executing" forever. (A record that says it ran but names no runner, written by an
older version, is settled by the same rule.)

``--stop`` from another process writes ``executions/<id>/stop.json`` and sends SIGTERM to the
runner, which stops its job (SIGTERM, then SIGKILL after a grace period) and records Stopped,
as SageMaker's StopPipelineExecution does. A runner that does not let go in time is killed.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from pipeline.core.errors import MoonpipeError
from pipeline.core.names import utc_now
from pipeline.core.status import Status, is_active
from pipeline.local.liveness import (
    is_held,
    owner_alive,
    owner_of_this_process,
    signal_owner,
    try_lock,
    waited_lock,
)
from pipeline.local.store.atomic import write_json
from pipeline.local.store.records import ExecutionRecord, Records

STOP_GRACE_S = 30.0  # the runner's own job grace (jobio) is shorter, so it normally wins


class ExecutionNotStoppableError(MoonpipeError):
    """--stop of an execution that already ended (SageMaker: a ValidationException)."""


def _lock_path(records: Records, execution_id: str) -> Path:
    return records.layout.runner_lock(execution_id)


def stop_requested(records: Records, execution_id: str) -> bool:
    """True once someone ran --stop on this execution."""
    return records.layout.stop_request(execution_id).is_file()


@contextlib.contextmanager
def runner_claim(records: Records, data: ExecutionRecord) -> Iterator[None]:
    """Hold the execution's runner lock for the block, recording who holds it first."""
    with try_lock(_lock_path(records, data.execution_id)) as acquired:
        if not acquired:
            raise MoonpipeError(
                f"execution {data.execution_id} is already being run by "
                "another process; follow it with --describe-execution"
            )
        data.ran, data.runner = True, owner_of_this_process()
        records.save_execution(data)
        yield


def interrupted_outcome(records: Records, execution_id: str, how: str) -> tuple[str, str]:
    """(status, reason) for an execution whose run ended early; ``how`` says what happened."""
    if stop_requested(records, execution_id):
        return Status.STOPPED, "stopped by --stop before it finished"
    return Status.FAILED, f"{how}; resume it with --retry {execution_id}"


def close_execution(
    records: Records, data: ExecutionRecord, status: str, reason: str | None
) -> None:
    """End the execution and every step still running with ``status`` and ``reason``."""
    ended = utc_now()
    for record, properties in records.steps(data.execution_id):
        if is_active(record.status):
            closed = replace(record, status=status, ended_at=ended, failure_reason=reason)
            records.save_step(data.execution_id, closed, properties)
    data.status, data.failure_reason, data.ended_at = status, reason, ended.isoformat()
    records.save_execution(data)


def claimed(data: ExecutionRecord) -> bool:
    """True while the record says a runner took it and has not ended it."""
    return is_active(data.status) and (data.ran or bool(data.runner))


def settle(records: Records, execution_id: str) -> ExecutionRecord:
    """The execution's record, ended first if its runner is gone (see the module docstring)."""
    data = records.execution(execution_id)
    if not claimed(data):
        return data  # ended, or recorded by --start and not run yet
    with try_lock(_lock_path(records, execution_id)) as acquired:
        if acquired:
            return _close_if_still_running(records, execution_id)
    if not data.runner or data.runner.get("start_token") is None or owner_alive(data.runner):
        return data  # the runner is alive and still working (or cannot be told apart)
    # The runner is gone and another reader holds the lock while it settles the record (the
    # report follower polls): wait for it, then read what it wrote.
    with waited_lock(_lock_path(records, execution_id)):
        return _close_if_still_running(records, execution_id)


def _close_if_still_running(records: Records, execution_id: str) -> ExecutionRecord:
    """Under the runner lock: end the record if it still says a runner is at work."""
    data = records.execution(execution_id)  # it may have finished meanwhile
    if claimed(data):
        status, reason = interrupted_outcome(records, execution_id, _runner_gone(data))
        close_execution(records, data, status, reason)
    return data


def _runner_gone(data: ExecutionRecord) -> str:
    """What happened to the runner of a claimed execution whose lock is free."""
    if not data.runner:
        return "the process running this execution stopped before it finished"
    pid = data.runner.get("pid")
    return f"the process running this execution (pid {pid}) ended before it finished (killed?)"


def stop(records: Records, execution_id: str, grace_s: float = STOP_GRACE_S) -> None:
    """Ask the runner to stop, wait for it to let go, kill it if it does not; then settle."""
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
    if not data.runner:  # recorded by --start but never run: nothing to signal
        close_execution(records, data, Status.STOPPED, "stopped by --stop before it ran")
        return
    lock = _lock_path(records, execution_id)
    signal_owner(data.runner, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while is_held(lock) and time.monotonic() < deadline:
        time.sleep(0.05)
    if is_held(lock):
        signal_owner(data.runner, signal.SIGKILL)
        while is_held(lock) and time.monotonic() < deadline + 5:
            time.sleep(0.05)
    settle(records, execution_id)
