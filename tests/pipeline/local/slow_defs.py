"""A definition whose training job sleeps, for what stops, kills or interrupts a runner.

Prep, then a Train step whose script writes its pid to ``slow.pid`` (atomically) and sleeps
two minutes: the interruption tests and benchmarks/bench_stop.py start a runner on it, wait
for the job with :func:`running_job`, then end it. A job in its own PID namespace sees
itself as pid 2: it writes its namespace too, and :func:`job_pid` finds its pid here.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from pipeline.core.records import PipelineDefinition
from tests.pipeline.local.local_defs import (
    PREP,
    PREP_URI,
    SOURCE_URI,
    prep_step,
    source_tarball,
    train_step,
)

SLOW_TRAIN = """
import os, time
out = os.environ["SM_OUTPUT_DATA_DIR"]
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "slow.pid.tmp"), "w") as f:
    f.write(f"{os.getpid()} {os.readlink('/proc/self/ns/pid')}")
os.replace(os.path.join(out, "slow.pid.tmp"), os.path.join(out, "slow.pid"))
time.sleep(120)
"""


def slow_pipeline(description: str = "slow") -> PipelineDefinition:
    """Pipeline ``moonpipe``: Prep (Rows) then the sleeping Train (HiddenDim)."""
    definition = {
        "Version": "2020-12-01",
        "Metadata": {},
        "Parameters": [
            {"Name": "HiddenDim", "Type": "Integer", "DefaultValue": 20},
            {"Name": "Rows", "Type": "Integer", "DefaultValue": 3},
        ],
        "Steps": [prep_step(), train_step()],
    }
    return PipelineDefinition(
        "moonpipe",
        description,
        json.dumps(definition),
        {PREP_URI: PREP.encode(), SOURCE_URI: source_tarball(SLOW_TRAIN)},
    )


def running_job(store: Path, timeout_s: float = 60) -> tuple[str, int]:
    """(execution id, pid) of the sleeping training job once it runs under ``store``.

    Raises AssertionError when no job started within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for found in store.glob("executions/*/jobs/Train/**/slow.pid"):
            execution_id = found.relative_to(store / "executions").parts[0]
            return execution_id, job_pid(found)
        time.sleep(0.02)
    raise AssertionError("the training job never started")


def job_pid(pid_file: Path) -> int:
    """The pid on this machine of the job that wrote ``pid_file`` (its pid, as it saw it,
    and its PID namespace): the process in that namespace whose innermost pid it is."""
    pid, _, namespace = pid_file.read_text().partition(" ")
    if namespace == os.readlink("/proc/self/ns/pid"):
        return int(pid)
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if os.readlink(status.parent / "ns" / "pid") != namespace:
                continue
            line = next(x for x in status.read_text().splitlines() if x.startswith("NSpid:"))
        except (OSError, StopIteration):
            continue
        outer, *_, inner = line.split()[1:]
        if inner == pid:
            return int(outer)
    raise AssertionError(f"no process of {pid_file} is running")
