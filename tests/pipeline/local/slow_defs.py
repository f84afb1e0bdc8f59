"""A definition whose training job sleeps, for what stops, kills or interrupts a runner.

Prep, then a Train step whose script writes its pid to ``slow.pid`` (atomically) and sleeps
two minutes: the interruption tests and benchmarks/bench_stop.py start a runner on it, wait
for the job with :func:`running_job`, then end it.
"""

from __future__ import annotations

import json
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
    f.write(str(os.getpid()))
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
            return execution_id, int(found.read_text())
        time.sleep(0.02)
    raise AssertionError("the training job never started")
