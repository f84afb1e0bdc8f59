"""Executions whose runner is interrupted, killed or stopped, driven through fresh CLI processes.

A tiny definition (Prep, then a Train step whose script prints its pid and sleeps) keeps
these fast; the runner is ``run_pipeline.py --start --wait`` in its own process, killed or
stopped from the test as a person (or a CI timeout) would.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pipeline.core.records import PipelineDefinition
from pipeline.local import interruptions
from pipeline.local.endpoint.process import find_servers
from pipeline.local.store.records import Records
from tests.cli_runner import REPO, run_local_cli, start_local_cli
from tests.pipeline.local.endpoint.deployed import SLOW_PROGRAM, kill_servers_under
from tests.pipeline.local.engine import local_runner
from tests.pipeline.local.local_defs import (
    SOURCE_URI,
    TRAIN,
    artifacts,
    full_definition,
    source_tarball,
)
from tests.pipeline.local.slow_defs import running_job, slow_pipeline


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = (tmp_path / "store").resolve()
    local_runner(root).pipelines.upsert(slow_pipeline(), None)
    return root


def cli(store: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return run_local_cli(store, *flags, timeout=120)


@pytest.fixture
def runner(store: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """``--start --wait`` in its own process, once its training job is running: (proc, job pid)."""
    proc = start_local_cli(store, "--start", "--wait")
    try:
        yield proc, running_job(store)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _gone(pid: int, timeout_s: float = 15) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, IndexError):
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def _only_execution(store: Path) -> dict[str, Any]:
    code = cli(store, "--list-executions", "--json")
    assert code.returncode == 0, code.stderr
    [execution] = json.loads(code.stdout)["executions"]
    described = cli(store, "--describe-execution", execution["execution_id"], "--json")
    assert described.returncode == 0, described.stderr
    return json.loads(described.stdout)


def _steps(summary: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {s["name"]: (s["status"], s["failure_reason"]) for s in summary["steps"]}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_during_training_ends_like_ctrl_c(
    store: Path, runner: tuple[subprocess.Popen[str], int], signum: int
) -> None:
    proc, job = runner
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1].startswith("error: interrupted;")
    assert "Traceback" not in err
    assert _gone(job), "the training job outlived the interrupted run"
    summary = _only_execution(store)
    assert summary["status"] == "Stopped"
    assert summary["failure_reason"] == (
        "interrupted (Ctrl-C or SIGTERM) before it finished; resume it with --retry "
        f"{summary['execution_id']}"
    )
    assert _steps(summary)["Train"] == ("Stopped", summary["failure_reason"])
    assert _steps(summary)["Prep"][0] == "Succeeded"


def test_sigkill_of_the_runner_is_noticed_by_the_next_reader(
    store: Path, runner: tuple[subprocess.Popen[str], int]
) -> None:
    proc, job = runner
    proc.kill()
    proc.wait(timeout=30)
    assert _gone(job), "the training job outlived its killed runner"
    summary = _only_execution(store)
    assert summary["status"] == "Failed"
    assert summary["failure_reason"] == (
        f"the process running this execution (pid {proc.pid}) ended before it finished "
        f"(killed?); resume it with --retry {summary['execution_id']}"
    )
    assert _steps(summary)["Train"] == ("Failed", summary["failure_reason"])
    again = cli(store, "--stop", summary["execution_id"])
    assert again.returncode == 2
    assert again.stderr == (
        f"error: cannot stop execution {summary['execution_id']}: it is "
        "already Failed (only an Executing execution can be stopped)\n"
    )


def test_a_live_runner_stays_executing(
    store: Path, runner: tuple[subprocess.Popen[str], int]
) -> None:
    proc, _ = runner
    summary = _only_execution(store)
    assert summary["status"] == "Executing"
    assert _steps(summary)["Train"][0] == "Executing"
    assert proc.poll() is None


def test_stop_from_another_process_stops_the_job_and_ends_stopped(
    store: Path, runner: tuple[subprocess.Popen[str], int]
) -> None:
    proc, job = runner
    execution_id = json.loads(cli(store, "--list-executions", "--json").stdout)["executions"][0][
        "execution_id"
    ]
    stopped = cli(store, "--stop", execution_id, "--json")
    assert stopped.returncode == 0, stopped.stderr
    summary = json.loads(stopped.stdout)
    assert summary["status"] == "Stopped"
    assert summary["failure_reason"] == "stopped by --stop before it finished"
    assert _steps(summary)["Train"] == ("Stopped", "stopped by --stop before it finished")
    assert _gone(job)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert f"execution {execution_id} Stopped" in out
    assert f"  resume it:      python run_pipeline.py --retry {execution_id}\n" in out
    again = cli(store, "--stop", execution_id)
    assert (again.returncode, again.stderr) == (
        2,
        (
            f"error: cannot stop execution {execution_id}: it is already Stopped "
            "(only an Executing execution can be stopped)\n"
        ),
    )


def test_stop_of_an_unknown_execution_names_it(store: Path) -> None:
    done = cli(store, "--stop", "nosuchexec")
    assert (done.returncode, done.stderr) == (
        2,
        f"error: no local execution 'nosuchexec'; list them with --list-executions "
        f"(store: {store})\n",
    )


def test_stop_kills_a_runner_that_does_not_let_go(store: Path, tmp_path: Path) -> None:
    """A runner deaf to SIGTERM is SIGKILLed after the grace period; the record says Stopped."""
    records = Records(store)
    holder = subprocess.Popen(
        [sys.executable, "-c", _DEAF_RUNNER, str(store)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        said, execution_id = holder.stdout.readline().split()
        assert said == "running"
        interruptions.stop(records, execution_id, grace_s=1)
        assert holder.wait(timeout=10) == -signal.SIGKILL
    finally:
        if holder.poll() is None:
            holder.kill()
    data = records.execution(execution_id)
    assert (data.status, data.failure_reason) == (
        "Stopped",
        "stopped by --stop before it finished",
    )


_DEAF_RUNNER = """
import signal, sys, time
from pathlib import Path
from pipeline.local.interruptions import begin_run, hold
from tests.pipeline.local.engine import local_runner
signal.signal(signal.SIGTERM, signal.SIG_IGN)
runner = local_runner(Path(sys.argv[1]))
execution_id = runner.start("moonpipe", {}).rsplit("/", 1)[-1]
assert begin_run(hold(runner.records, execution_id)) is not None
print("running", execution_id, flush=True)
time.sleep(60)
"""


def test_an_execution_never_run_can_be_stopped(store: Path) -> None:
    runner = local_runner(store)
    summary = runner.stop(runner.start("moonpipe", {}))
    assert (summary.status, summary.failure_reason) == (
        "Stopped",
        "stopped by --stop before it ran",
    )


def test_a_second_runner_of_one_execution_is_refused(store: Path) -> None:
    records = Records(store)
    arn = local_runner(store).start("moonpipe", {})  # held by this process from now on
    execution_id = arn.rsplit("/", 1)[-1]
    second = subprocess.run(
        [sys.executable, "-c", _SECOND_RUNNER, str(store), arn],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.stdout.strip() == (
        f"execution {execution_id} is already being run by another process; "
        "follow it with --describe-execution"
    ), second.stderr
    data = records.execution(execution_id)
    assert (data.status, data.starter and data.starter["pid"]) == ("Executing", os.getpid())
    interruptions.stop(records, execution_id)  # this process ends what it started


_SECOND_RUNNER = """
import sys
from pathlib import Path
from pipeline.core.errors import MoonpipeError
from tests.pipeline.local.engine import local_runner
try:
    local_runner(Path(sys.argv[1])).run(sys.argv[2], lambda record: None)
except MoonpipeError as err:
    print(err)
"""


SERVING_TRAIN = (
    TRAIN
    + """
import os
model_dir = os.environ["SM_MODEL_DIR"]
os.makedirs(os.path.join(model_dir, "code"), exist_ok=True)
for name, text in FILES.items():
    with open(os.path.join(model_dir, name), "w") as fh:
        fh.write(text)
"""
)


def _deploying_pipeline() -> PipelineDefinition:
    """local_defs' full pipeline, whose model serves (slowly: a window to kill the deploy)."""
    files = {
        "params.json": json.dumps({"scale": 1}),
        "code/inference.py": SLOW_PROGRAM,
        "code/helper.py": "def combine(row):\n    return sum(row)\n",
    }
    script = f"FILES = {files!r}\n" + SERVING_TRAIN
    return PipelineDefinition(
        "moonpipe",
        "deploys",
        json.dumps(full_definition()),
        {**artifacts(), SOURCE_URI: source_tarball(script)},
    )


@pytest.fixture
def deploy_store(tmp_path: Path) -> Iterator[Path]:
    root = (tmp_path / "store").resolve()
    local_runner(root).pipelines.upsert(_deploying_pipeline(), None)
    yield root
    kill_servers_under(root)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_killed_during_the_first_deploy_everything_stays_visible_and_deletable(
    deploy_store: Path, signum: int
) -> None:
    store = deploy_store
    proc = start_local_cli(store, "--start", "--wait")
    record = store / "endpoints" / "ep" / "endpoint.json"
    deadline, creating = time.monotonic() + 90, False
    while not creating and proc.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            creating = json.loads(record.read_text()).get("status") == "Creating"
        time.sleep(0.002)
    assert creating, "the run never reached its first deploy"
    proc.send_signal(signum)
    proc.communicate(timeout=60)
    summary = _only_execution(store)
    assert summary["status"] == ("Stopped" if signum == signal.SIGTERM else "Failed")
    assert _steps(summary)["Deploy"] == (summary["status"], summary["failure_reason"])
    listed = cli(store, "--list-endpoints", "--json")
    assert [e["name"] for e in json.loads(listed.stdout)["endpoints"]] == ["ep"]
    stop = cli(store, "--stop", summary["execution_id"])
    assert (stop.returncode, stop.stderr.startswith("error: cannot stop execution")) == (2, True)
    deleted = cli(store, "--delete-endpoint", "ep")
    assert deleted.returncode == 0, deleted.stderr
    assert find_servers(store / "endpoints" / "ep") == []
    assert json.loads(cli(store, "--list-endpoints", "--json").stdout)["endpoints"] == []


def test_a_reader_settling_a_dead_runner_does_not_make_another_reader_see_it_alive(
    tmp_path: Path,
) -> None:
    """Two readers at once (the report follower polls): the second must not read 'Executing'.

    The first holds the runner lock while it records the dead runner's execution as Failed;
    a lock held by a reader is not a live runner, so the second waits and reads the result.
    """
    import threading

    from pipeline.local.liveness import waited_lock
    from pipeline.local.store.records import ExecutionRecord

    records = Records(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    running = ExecutionRecord(
        pipeline_name="p",
        pipeline_version=1,
        execution_id="e1",
        execution_arn="arn:aws:sagemaker:us-east-1:000000000000:pipeline/p/execution/e1",
        status="Executing",
        parameters={},
        started_at="2026-12-01T00:00:00+00:00",
        ran=True,
        runner={"pid": dead.pid, "start_token": "1"},
    )
    records.save_execution(running)
    lock = records.layout.runner_lock("e1")
    holding, release = threading.Event(), threading.Event()

    def first_reader() -> None:
        with waited_lock(lock):
            holding.set()
            release.wait(5)
            interruptions.close_execution(records, "e1", "Failed", "gone")

    reader = threading.Thread(target=first_reader)
    reader.start()
    assert holding.wait(5)
    threading.Timer(0.3, release.set).start()
    seen = interruptions.settle(records, "e1")
    reader.join()
    assert (seen.status, seen.failure_reason) == ("Failed", "gone")


def test_a_record_that_ran_without_naming_its_runner_is_settled_by_the_same_rule(
    tmp_path: Path,
) -> None:
    """An older version's record: it ran, no runner named, nobody holds the lock. Every reader
    (not only a second --wait) ends it, and its running step with it."""
    from pipeline.core.records import StepRecord
    from pipeline.local.store.records import ExecutionRecord

    records = Records(tmp_path)
    records.save_execution(
        ExecutionRecord(
            pipeline_name="p",
            pipeline_version=1,
            execution_id="e2",
            execution_arn="arn:aws:sagemaker:us-east-1:000000000000:pipeline/p/execution/e2",
            status="Executing",
            parameters={},
            started_at="2026-12-01T00:00:00+00:00",
            ran=True,
        )
    )
    records.save_step("e2", StepRecord("Train", "Training", "Executing"), None)
    reason = (
        "the process running this execution stopped before it finished; resume it with --retry e2"
    )
    seen = interruptions.settle(records, "e2")
    assert (seen.status, seen.failure_reason) == ("Failed", reason)
    [(step, _)] = records.steps("e2")
    assert (step.status, step.failure_reason) == ("Failed", reason)
    never_run = replace(seen, execution_id="e3", status="Executing", ran=False, ended_at=None)
    records.save_execution(never_run)  # an older version's --start whose process is gone
    assert (interruptions.settle(records, "e3").failure_reason or "").startswith(
        "no process ever ran it"
    )
