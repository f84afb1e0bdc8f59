"""A hidden_dim sweep on the local target, as a person runs it: run_pipeline.py in fresh
processes on one store. Points never touch the endpoint; --deploy-best serves the best
point's model (checked by its predictions) after a rerun whose earlier steps are cache hits.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.cli_runner import run_local_cli, upserted_store
from tests.test_local_end_to_end import ENDPOINT, cli, run_json

pytestmark = pytest.mark.e2e

# Short training, and a gate every point passes: this is about the sweep, not the model.
SWEEP = ("--sweep", "HiddenDim=4,8,16", "--param", "Epochs=30", "--param", "AccuracyThreshold=0.5")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with upserted_store(tmp_path_factory.mktemp("sweep") / "store", job_start="warm") as root:
        yield root


@pytest.fixture(scope="module")
def swept(store: Path) -> tuple[int, dict[str, Any], str]:
    return run_json(store, *SWEEP)


def _appears(path: Path, within_s: float = 120.0) -> None:
    deadline = time.monotonic() + within_s
    while not path.is_file():
        assert time.monotonic() < deadline, f"{path} was not written within {within_s} s"
        time.sleep(0.2)


def _described(store: Path, execution_id: str) -> dict[str, Any]:
    return json.loads(cli(store, "--describe-execution", execution_id, "--json").stdout)


def test_every_point_succeeds_and_says_which_point_it_is(
    store: Path, swept: tuple[int, dict[str, Any], str]
) -> None:
    code, doc, stderr = swept
    assert code == 0, stderr
    assert sorted(p["point"]["HiddenDim"] for p in doc["points"]) == [4, 8, 16]  # typed
    for point in doc["points"]:
        assert point["status"] == "Succeeded" and point["failure_reason"] is None
        assert point["parameters"]["HiddenDim"] == point["point"]["HiddenDim"]
        assert point["parameters"]["Epochs"] == 30
        assert point["parameters"]["Deploy"] is False
        assert point["display_name"] == f"sweep-HiddenDim-{point['point']['HiddenDim']}"
    accuracies = [p["metrics"]["accuracy"] for p in doc["points"]]
    assert accuracies == sorted(accuracies, reverse=True)  # ranked best first
    assert doc["best"]["execution_id"] == doc["points"][0]["execution_id"]
    assert any("being written in the background" in note for note in doc["notes"])
    # the comparison page (of the records) is there when the sweep returns; the points'
    # pages and the comparison's plots are drawn in the background
    assert Path(doc["comparison_report"]).is_file()
    for point in doc["points"]:
        _appears(store / "executions" / point["execution_id"] / "report.html")
    for index in range(1, 4):  # one live line per point, as it ends
        assert f"[{index}/3 " in stderr


def test_data_step_runs_at_most_once_and_no_point_touches_the_endpoint(
    store: Path, swept: tuple[int, dict[str, Any], str]
) -> None:
    _, doc, _ = swept
    ran_data = 0
    for point in doc["points"]:
        steps = {s["name"]: s for s in _described(store, point["execution_id"])["steps"]}
        ran_data += not steps["PrepareMoonData"]["cache_hit"]
        assert steps["RegisterMoonModel-RegisterModel"]["status"] == "Succeeded"
        assert steps["DeployOrNot"]["status"] == "Succeeded"
        assert "CreateMoonModel-CreateModel" not in steps
        assert "DeployMoonEndpoint" not in steps
    assert ran_data <= 1
    assert json.loads(cli(store, "--list-endpoints", "--json").stdout)["endpoints"] == []
    packages = [json.loads(p.read_text()) for p in (store / "registry").rglob("versions/*.json")]
    assert sorted(p["ModelApprovalStatus"] for p in packages) == ["PendingManualApproval"] * 3


def _test_features(store: Path) -> np.ndarray:
    [test_csv] = list((store / "s3").rglob("PrepareMoonData/**/test.csv"))
    rows = [[float(v) for v in r] for r in csv.reader(test_csv.read_text().splitlines())]
    return np.asarray([r[1:] for r in rows])


def _model_predictions(store: Path, model_uri: str, features: np.ndarray, where: Path) -> Any:
    """Probabilities of a registered artifact, through its own code/inference.py."""
    bucket_key = model_uri.removeprefix("s3://")
    with tarfile.open(store / "s3" / bucket_key) as archive:
        archive.extractall(where, filter="data")
    spec = importlib.util.spec_from_file_location(f"inf_{where.name}", where / "code/inference.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return np.asarray(module.predict_fn(features.astype(np.float32), module.model_fn(str(where))))


def _package(store: Path, arn: str) -> dict[str, Any]:
    version = arn.rsplit("/", 1)[1]
    return json.loads(next((store / "registry").rglob(f"versions/{version}.json")).read_text())


def _executions(store: Path) -> set[str]:
    return {p.name for p in (store / "executions").iterdir()}


def test_a_misspelt_deploy_best_metric_is_refused_before_any_point_runs(
    store: Path, swept: tuple[int, dict[str, Any], str]
) -> None:
    before = _executions(store)
    done = cli(store, *SWEEP, "--deploy-best", "acuracy")
    assert done.returncode == 2
    assert done.stderr.startswith(
        "error: --deploy-best acuracy: no such metric (did you mean accuracy?); the points "
        "will have the evaluation report's accuracy, precision,"
    )
    assert done.stderr.count("\n") == 1 and "train:loss" in done.stderr
    assert done.stdout == "" and _executions(store) == before


def test_the_sweep_in_a_pipe_prints_a_line_per_change_and_no_cursor_codes(
    swept: tuple[int, dict[str, Any], str],
) -> None:
    _, _, stderr = swept
    assert "\x1b[" not in stderr
    assert "[1/3 HiddenDim=4] Executing  " in stderr and "[1/3 HiddenDim=4] Succeeded" in stderr


def test_deploy_best_serves_the_best_points_model_from_a_cached_rerun(
    store: Path, swept: tuple[int, dict[str, Any], str], tmp_path: Path
) -> None:
    before = _executions(store)
    code, doc, stderr = run_json(store, *SWEEP, "--deploy-best")
    assert code == 0, stderr
    # the same sweep again: every point is the execution that already did it, not a rerun
    assert "sweep of 3 points (3 already done: reused; --rerun runs them again)" in stderr
    assert [p["reused"] for p in doc["points"]] == [True, True, True]
    first = {p["execution_id"] for p in swept[1]["points"]}
    assert {p["execution_id"] for p in doc["points"]} == first
    assert _executions(store) - before == {doc["deployed"]["execution_id"]}  # only the promotion
    deployed = doc["deployed"]
    assert deployed["status"] == "Succeeded"
    assert deployed["parameters"]["Deploy"] is True
    assert deployed["parameters"]["HiddenDim"] == doc["best"]["point"]["HiddenDim"]
    hits = {s["name"]: s["cache_hit"] for s in deployed["steps"]}
    assert hits["PrepareMoonData"] and hits["TrainMoonClassifier"]
    assert hits["EvaluateMoonClassifier"]
    assert _package(store, deployed["model_package_arn"])["ModelApprovalStatus"] == "Approved"

    features = _test_features(store)
    body = "\n".join(",".join(repr(float(v)) for v in row) for row in features).encode()
    served = np.asarray(json.loads(_invoke(store, body)))
    by_point = {}
    for point in doc["points"]:
        uri = _package(store, point["model_package_arn"])["InferenceSpecification"]
        model_uri = uri["Containers"][0]["ModelDataUrl"]
        where = tmp_path / point["execution_id"]
        by_point[point["execution_id"]] = _model_predictions(store, model_uri, features, where)
    best = doc["best"]["execution_id"]
    np.testing.assert_allclose(served, by_point[best].ravel(), atol=1e-6)
    for other, predictions in by_point.items():
        if other != best:
            assert not np.allclose(served, predictions.ravel(), atol=1e-6)


def _invoke(store: Path, body: bytes) -> str:
    flags = ("--invoke", ENDPOINT, "--data", "-", "--accept", "application/json")
    done = run_local_cli(store, *flags, stdin=body.decode(), timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_sweep_with_one_more_value_runs_only_the_new_point(
    store: Path, swept: tuple[int, dict[str, Any], str]
) -> None:
    before = _executions(store)
    wider = ("--sweep", "HiddenDim=4,8,16,6", *SWEEP[2:])
    code, doc, stderr = run_json(store, *wider)
    assert code == 0, stderr
    reused = {p["point"]["HiddenDim"]: p["reused"] for p in doc["points"]}
    assert reused == {4: True, 8: True, 16: True, 6: False}
    [new] = [p for p in doc["points"] if not p["reused"]]
    assert _executions(store) - before == {new["execution_id"]}
    assert "[1/4 HiddenDim=4] Succeeded (reused)" in stderr


def test_on_a_terminal_the_point_lines_are_redrawn_in_place(store: Path) -> None:
    import os
    import pty
    import subprocess
    import sys

    from tests.cli_runner import REPO, local_cli_env

    leader, follower = pty.openpty()
    env = local_cli_env()
    env.update(TERM="xterm", COLUMNS="200", LINES="50")
    argv = ["--store", str(store), "--sweep", "HiddenDim=4,8", *SWEEP[2:], "--rerun"]
    proc = subprocess.Popen(
        [sys.executable, "run_pipeline.py", *argv],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        cwd=REPO,
        env=env,
    )
    os.close(follower)
    screen = _read_all(leader)
    assert proc.wait(timeout=300) == 0, screen
    assert "\x1b[2A" in screen  # back up over the block of two point lines...
    assert "\r\x1b[2K[2/2 HiddenDim=8] Pending" in screen  # ...one line per point from the start
    assert "\r\x1b[2K[2/2 HiddenDim=8] Succeeded" in screen  # ...redrawn as the points end


def _read_all(fd: int) -> str:
    """Everything a pty's far side wrote until it closed."""
    import os

    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")
