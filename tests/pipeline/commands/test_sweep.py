"""The --sweep command in a fresh process: Ctrl-C stops the running points and says so.

A tiny definition whose training job sleeps (tests/pipeline/local/slow_defs.py)
with the sweep's Deploy and ModelApprovalStatus parameters, so the points are surely running
when SIGINT arrives and nothing trains.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from pipeline.core.records import PipelineDefinition
from pipeline.targets.local import LocalTarget
from tests.cli_runner import start_local_cli
from tests.pipeline.local.slow_defs import job_pid, slow_pipeline
from tests.pipeline.local.test_interruptions import _gone, cli

pytestmark = pytest.mark.e2e

GATE = [
    {"Name": "Deploy", "Type": "Boolean", "DefaultValue": True},
    {"Name": "ModelApprovalStatus", "Type": "String", "DefaultValue": "Approved"},
]


def _sweepable_slow_pipeline() -> PipelineDefinition:
    slow = slow_pipeline()
    definition = json.loads(slow.definition)
    definition["Parameters"] += GATE
    return PipelineDefinition(slow.name, slow.description, json.dumps(definition), slow.artifacts)


def _job_pids(store: Path, count: int, timeout_s: float = 90) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = sorted(store.glob("executions/*/jobs/Train/**/slow.pid"))
        if len(found) >= count:
            return [job_pid(p) for p in found]
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} training jobs started")


def test_ctrl_c_stops_the_running_points_says_which_and_exits_130(tmp_path: Path) -> None:
    store = (tmp_path / "store").resolve()
    LocalTarget(store).upsert_pipeline(_sweepable_slow_pipeline(), None)
    proc = start_local_cli(store, "--sweep", "HiddenDim=1,2,3", "--max-parallel", "2")
    try:
        jobs = _job_pids(store, 2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "recorded as Failed" not in out + err
    listed = json.loads(cli(store, "--list-executions", "--json").stdout)["executions"]
    by_dim = {e["parameters"]["HiddenDim"]: e for e in listed}
    assert sorted(by_dim) == [1, 2]  # the third point never started
    assert [by_dim[d]["status"] for d in (1, 2)] == ["Stopped", "Stopped"]
    first = by_dim[1]["execution_id"]
    assert err.splitlines()[-1] == (
        "error: interrupted; the sweep stopped its running points (HiddenDim=1: Stopped, "
        f"HiddenDim=2: Stopped); 1 not started; resume one with --retry {first}, or run the "
        "sweep again (points that succeeded are reused)"
    )
    table = out.splitlines()
    assert table[-2].startswith("no point succeeded with accuracy; nothing to promote; ")
    assert "HiddenDim=1 (Stopped)" in table[-2]  # what has no metric is named, and why
    assert table[-1] == f"store: {store}"
    assert [r.split()[1:3] for r in table if r.startswith("-")] == [
        ["1", "Stopped"], ["2", "Stopped"], ["3", "Pending"]
    ]  # fmt: skip
    assert all(_gone(job) for job in jobs), "a point's job outlived the interrupted sweep"
