"""Rerunning part of a pipeline on the local target, through run_pipeline.py in fresh
processes: --from-step (SelectiveExecutionConfig), refused selections, and --retry of an
execution whose runner was killed during evaluation.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli_runner import start_local_cli, upserted_store
from tests.test_local_end_to_end import cli, run_json

pytestmark = pytest.mark.e2e

FAST = ("--param", "Epochs=30", "--param", "AccuracyThreshold=0.5")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with upserted_store(tmp_path_factory.mktemp("rerun") / "store", job_start="warm") as root:
        yield root


@pytest.fixture(scope="module")
def source(store: Path) -> dict[str, Any]:
    code, doc, stderr = run_json(store, "--start", *FAST)
    assert code == 0, stderr
    return doc


def _jobs_ran(store: Path, execution_id: str) -> set[str]:
    jobs = store / "executions" / execution_id / "jobs"
    return {p.name for p in jobs.iterdir()} if jobs.is_dir() else set()


def test_from_step_evaluation_reuses_data_and_training_and_reproduces_the_metrics(
    store: Path, source: dict[str, Any]
) -> None:
    code, doc, stderr = run_json(
        store, "--start", *FAST, "--from-step", "EvaluateMoonClassifier",
        "--from-execution", source["execution_id"],
    )  # fmt: skip
    assert code == 0, stderr
    steps = {s["name"]: s for s in doc["steps"]}
    for reused in ("PrepareMoonData", "TrainMoonClassifier"):
        assert steps[reused]["reused_from"] == source["execution_id"]
        assert steps[reused]["source_execution_id"] == source["execution_id"]
    assert steps["EvaluateMoonClassifier"]["reused_from"] is None
    assert not {"PrepareMoonData", "TrainMoonClassifier"} & _jobs_ran(store, doc["execution_id"])
    assert doc["metrics"] == source["metrics"]
    described = cli(store, "--describe-execution", doc["execution_id"]).stdout
    assert f"reused from {source['execution_id']}" in described


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (
            ("--steps", "PrepareMoonData,EvaluateMoonClassifier"),
            "error: SelectedSteps: All step(s) in all path(s) between two selected steps should "
            "be included; TrainMoonClassifier lies between PrepareMoonData and a later selected "
            "step: select it too",
        ),
        (("--steps", "Nope"), "error: SelectedSteps: Nope is not a step of pipeline moonpipe;"),
        (
            ("--from-step", "EvaluateMoonClassifier", "--from-execution", "nosuchexecution"),
            "error: no local execution 'nosuchexecution'",
        ),
    ],
)
def test_invalid_selections_are_refused_before_anything_starts(
    store: Path, source: dict[str, Any], flags: tuple[str, ...], says: str
) -> None:
    before = sorted((store / "executions").iterdir())
    done = cli(store, "--start", *flags)
    assert done.returncode == 2
    assert done.stderr.startswith(says), done.stderr
    assert sorted((store / "executions").iterdir()) == before


def _killed_during_evaluation(store: Path) -> str:
    """Start a run, SIGKILL its process once evaluation starts; returns the execution id."""
    before = set((store / "executions").iterdir())
    runner = start_local_cli(store, "--start", *FAST, "--param", "HiddenDim=6", capture=False)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        for folder in set((store / "executions").iterdir()) - before:
            if (folder / "steps" / "EvaluateMoonClassifier.json").is_file():
                os.kill(runner.pid, signal.SIGKILL)
                runner.wait()
                return folder.name
        time.sleep(0.02)
    runner.kill()
    raise AssertionError("evaluation never started")


def test_killed_during_evaluation_then_retried_to_succeeded_without_rerunning_data_or_training(
    store: Path, source: dict[str, Any]
) -> None:
    execution_id = _killed_during_evaluation(store)
    failed = json.loads(cli(store, "--describe-execution", execution_id, "--json").stdout)
    assert failed["status"] == "Failed"
    assert failed["failure_reason"].endswith(f"; resume it with --retry {execution_id}")
    first = {s["name"]: s for s in failed["steps"]}
    code, doc, stderr = run_json(store, "--retry", execution_id)
    assert code == 0, stderr
    assert doc["execution_id"] == execution_id and doc["status"] == "Succeeded"
    assert doc["parameters"] == failed["parameters"]
    steps = {s["name"]: s for s in doc["steps"]}
    for kept in ("PrepareMoonData", "TrainMoonClassifier"):  # the same records: not rerun
        assert steps[kept]["duration_s"] == first[kept]["duration_s"]
        assert kept not in stderr
    assert "EvaluateMoonClassifier" in stderr
    attempts = store / "executions" / execution_id / "attempts" / "1" / "steps"
    assert (attempts / "EvaluateMoonClassifier.json").is_file()
    record = json.loads((store / "executions" / execution_id / "execution.json").read_text())
    assert [a["status"] for a in record["attempts"]] == ["Failed"]


def test_retry_of_a_succeeded_execution_is_refused(store: Path, source: dict[str, Any]) -> None:
    done = cli(store, "--retry", source["execution_id"])
    assert done.returncode == 2
    assert done.stderr == (
        f"error: cannot retry execution {source['execution_id']}: it is Succeeded; only a "
        "Failed or Stopped execution can be retried (start a new one with --start)\n"
    )
