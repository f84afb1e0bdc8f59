"""The start window (issue 21, finding 1): a CLI interrupted, killed or stopped at any moment
between recording an execution and running it never leaves it Executing, and never loses a
--stop.

Each test runs ``run_pipeline.py`` in a fresh process that pauses at one named moment
(:data:`PAUSED_CLI`): ``recorded`` (--start or --retry has recorded the execution; in a
sweep, a point is recorded and its worker not launched yet) or ``host`` (the run is about to
find or start the warm job host: with the host up, or when it must start). There the test
sends SIGINT, SIGTERM or SIGKILL, or runs ``--stop``, then lets the pause go and reads the
store with a fresh CLI. The pipeline is built with the SageMaker SDK (tests/.../sdk_defs.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.local.liveness import is_held
from pipeline.local.warm.client import WarmStarter
from tests.cli_runner import run_local_cli
from tests.pipeline.local.engine import local_runner
from tests.pipeline.local.paused_cli import Paused
from tests.pipeline.local.sdk_defs import integrity_pipeline

pytestmark = pytest.mark.e2e

KILLS = [signal.SIGINT, signal.SIGTERM, signal.SIGKILL]
INTERRUPTED = "interrupted (Ctrl-C or SIGTERM) before it finished; resume it with --retry "


def cli(store: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return run_local_cli(store, *flags, timeout=120)


def executions(store: Path) -> list[dict[str, Any]]:
    """Every execution, as a fresh --list-executions reads it (newest first)."""
    listed = cli(store, "--list-executions", "--json")
    assert listed.returncode == 0, listed.stderr
    return list(json.loads(listed.stdout))


def when_every_runner_let_go(store: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    locks = list(store.glob("executions/*/runner.lock"))
    while any(is_held(lock) for lock in locks):
        assert time.monotonic() < deadline, "a runner never let go"
        time.sleep(0.05)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Path]:
    root = (tmp_path / "store").resolve()
    local_runner(root).pipelines.upsert(integrity_pipeline(), None)
    yield root
    WarmStarter(root).stop()


def host(store: Path, up: bool) -> None:
    """The store's warm job host up (started now), or not running (it must start)."""
    if up:
        WarmStarter(store).ensure()
    else:
        WarmStarter(store).stop()


def ended_as_killed(summary: dict[str, Any], signum: int) -> None:
    """SIGINT and SIGTERM end it Stopped (resumable); after SIGKILL the next reader ends it
    Failed. Never Executing."""
    if signum == signal.SIGKILL:
        assert summary["status"] == "Failed", summary
        assert "ended before" in summary["failure_reason"], summary
    else:
        assert summary["status"] == "Stopped", summary
        assert summary["failure_reason"].endswith(f"--retry {summary['execution_id']}"), summary


def a_failed_execution(store: Path) -> str:
    """The id of an execution whose Fit failed (a --retry runs Fit again: it fails again)."""
    done = cli(store, "--start", "--param", "Banner=fail:on purpose")
    assert done.returncode == 1, done.stderr
    [failed] = executions(store)
    assert failed["status"] == "Failed", failed
    return str(failed["execution_id"])


# -- --start ---------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", KILLS, ids=lambda s: signal.Signals(s).name)
def test_start_killed_once_recorded_ends_the_execution(store: Path, signum: int) -> None:
    paused = Paused(store, "recorded", "--start")
    paused.proc.send_signal(signum)
    _, err = paused.let_go()
    assert "Traceback" not in err
    [summary] = executions(store)
    ended_as_killed(summary, signum)


@pytest.mark.parametrize("host_up", [True, False], ids=["host-up", "host-must-start"])
@pytest.mark.parametrize("signum", KILLS, ids=lambda s: signal.Signals(s).name)
def test_start_killed_while_the_host_is_found_ends_the_execution(
    store: Path, signum: int, host_up: bool
) -> None:
    host(store, host_up)
    paused = Paused(store, "host", "--start")
    paused.proc.send_signal(signum)
    _, err = paused.let_go()
    assert "Traceback" not in err
    [summary] = executions(store)
    ended_as_killed(summary, signum)
    if signum != signal.SIGKILL:
        assert summary["failure_reason"] == INTERRUPTED + summary["execution_id"]
        assert err.strip().splitlines()[-1] == (
            "error: interrupted; a SageMaker execution keeps running, a local one is recorded "
            "as Stopped (resume it with --retry ID; see --list-executions)"
        )


@pytest.mark.parametrize("moment", ["recorded", "host"])
def test_a_stop_in_the_start_window_is_never_lost(store: Path, moment: str) -> None:
    """--stop says Stopped, and the run that was about to begin never runs a step."""
    host(store, up=True)
    paused = Paused(store, moment, "--start")
    execution_id = executions(store)[0]["execution_id"]
    stopped = cli(store, "--stop", execution_id, "--json")
    assert stopped.returncode == 0, stopped.stderr
    assert json.loads(stopped.stdout)["status"] == "Stopped"
    paused.let_go()
    when_every_runner_let_go(store)
    [summary] = executions(store)
    assert (summary["status"], summary["failure_reason"]) == (
        "Stopped",
        "stopped by --stop before it ran"
        if moment == "recorded"
        else "stopped by --stop before it finished",
    )
    steps = cli(store, "--describe-execution", execution_id, "--json")
    assert [s["status"] for s in json.loads(steps.stdout)["steps"]] == []  # nothing ran


# -- --retry ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "host_up"),
    [("recorded", True), ("host", True), ("host", False)],
    ids=["recorded", "host-up", "host-must-start"],
)
@pytest.mark.parametrize("signum", KILLS, ids=lambda s: signal.Signals(s).name)
def test_retry_killed_in_the_start_window_ends_the_execution(
    store: Path, signum: int, moment: str, host_up: bool
) -> None:
    execution_id = a_failed_execution(store)
    host(store, host_up)
    paused = Paused(store, moment, "--retry", execution_id)
    paused.proc.send_signal(signum)
    _, err = paused.let_go()
    assert "Traceback" not in err
    [summary] = executions(store)
    ended_as_killed(summary, signum)
    again = cli(store, "--retry", execution_id)  # and it can still be resumed (Fit fails again)
    assert (again.returncode, executions(store)[0]["status"]) == (1, "Failed"), again.stderr
    assert "step Fit failed" in executions(store)[0]["failure_reason"]


def test_a_stop_during_a_retry_start_is_never_lost(store: Path) -> None:
    execution_id = a_failed_execution(store)
    paused = Paused(store, "host", "--retry", execution_id)
    stopped = cli(store, "--stop", execution_id, "--json")
    assert json.loads(stopped.stdout)["status"] == "Stopped", stopped.stderr
    paused.let_go()
    when_every_runner_let_go(store)
    assert executions(store)[0]["status"] == "Stopped"


# -- a sweep ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "host_up"),
    [("recorded", True), ("host", True), ("host", False)],
    ids=["point-recorded", "worker-host-up", "worker-host-must-start"],
)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_sweeps_interruption_stops_every_point_it_started(
    store: Path, signum: int, moment: str, host_up: bool
) -> None:
    host(store, host_up)
    paused = Paused(store, moment, "--sweep", "Rows=5,6", "--max-parallel", "2")
    paused.proc.send_signal(signum)
    time.sleep(0.5)  # the sweep stops its points while the pause still holds one
    _, err = paused.let_go()
    assert paused.proc.returncode == 130, err
    assert "Traceback" not in err
    when_every_runner_let_go(store)
    found = executions(store)
    assert found, "the sweep started no point"
    assert {s["status"] for s in found} == {"Stopped"}, found


@pytest.mark.parametrize("moment", ["recorded", "host"])
def test_a_killed_sweep_leaves_no_point_executing(store: Path, moment: str) -> None:
    """SIGKILL: a point still held by the sweep ends Failed; a worker's runs on to its end."""
    host(store, up=True)
    paused = Paused(store, moment, "--sweep", "Rows=5,6", "--max-parallel", "2")
    paused.proc.kill()
    paused.let_go()
    when_every_runner_let_go(store)
    found = executions(store)
    assert found and all(s["status"] in ("Failed", "Succeeded") for s in found), found
    if moment == "recorded":
        assert any(s["status"] == "Failed" for s in found), found


def test_nothing_executing_is_left_without_a_live_holder(store: Path) -> None:
    """What every test above checks, stated once on the store: an Executing record's lock is
    held by a live process."""
    paused = Paused(store, "recorded", "--start")
    [summary] = executions(store)
    assert summary["status"] == "Executing"
    lock = store / "executions" / summary["execution_id"] / "runner.lock"
    assert is_held(lock)
    os.kill(paused.proc.pid, signal.SIGKILL)
    paused.let_go()
    assert not is_held(lock)
    assert executions(store)[0]["status"] == "Failed"
