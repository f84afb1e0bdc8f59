"""The product as a newcomer meets it: the real definition on the local target, real endpoint.

One store for the module, driven through run_pipeline.py in fresh processes exactly as a
person would: a fresh run, a rerun with only HiddenDim changed, a run below the threshold, a
run whose data step crashes. The endpoint the first run starts is deleted at teardown.
"""

from __future__ import annotations

import csv
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest

from tests.cli_runner import run_local_cli, upserted_store

pytestmark = pytest.mark.e2e

ENDPOINT = "moonpipe-endpoint"
REPORTS_SDK_IMPORT = """
import sys
import run_pipeline
code = run_pipeline.main(sys.argv[1:])
print("matplotlib imported:", "matplotlib" in sys.modules, file=sys.stderr)
print("sagemaker imported:", "sagemaker" in sys.modules, file=sys.stderr)
sys.exit(code)
"""


def cli(
    store: Path, *flags: str, code: str | None = None, job_start: str = "warm"
) -> subprocess.CompletedProcess[str]:
    """run_pipeline.py (or ``code`` standing in for it) in a fresh process on ``store``; jobs
    start from the store's warm host unless ``job_start`` says otherwise."""
    return run_local_cli(store, *flags, code=code, job_start=job_start)


def run_json(store: Path, *flags: str, code: str | None = None) -> tuple[int, dict[str, Any], str]:
    done = cli(store, "--json", *flags, code=code)
    return done.returncode, json.loads(done.stdout), done.stderr


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with upserted_store(tmp_path_factory.mktemp("e2e") / "store", job_start="warm") as root:
        yield root


@pytest.fixture(scope="module")
def first(store: Path) -> dict[str, Any]:
    code, doc, stderr = run_json(store, "--start", "--wait", code=REPORTS_SDK_IMPORT)
    assert code == 0, stderr
    assert stderr.splitlines()[-1] == "sagemaker imported: False"  # --start needs no SDK
    assert stderr.splitlines()[-2] == "matplotlib imported: False"  # the report is detached
    return doc


def test_fresh_run_succeeds_through_the_endpoint(first: dict[str, Any]) -> None:
    assert first["status"] == "Succeeded" and first["failure_reason"] is None
    assert [s["name"] for s in first["steps"]] == [
        "PrepareMoonData",
        "TrainMoonClassifier",
        "EvaluateMoonClassifier",
        "CheckAccuracy",
        "RegisterMoonModel-RegisterModel",
        "DeployOrNot",
        "CreateMoonModel-CreateModel",
        "MoonEndpointConfig",
        "DeployMoonEndpoint",
    ]
    assert not any(s["cache_hit"] for s in first["steps"])
    assert first["metrics"]["accuracy"] >= 0.92
    assert first["model_package_arn"].endswith(":model-package/moonpipe-models/1")
    assert first["endpoint"]["name"] == ENDPOINT
    assert first["endpoint"]["url"].startswith("http://127.0.0.1:")


def _test_rows(store: Path) -> tuple[list[list[float]], list[int]]:
    [test_csv] = list((store / "s3").rglob("PrepareMoonData/**/test.csv"))
    rows = [[float(v) for v in row] for row in csv.reader(test_csv.read_text().splitlines())]
    return [r[1:] for r in rows], [int(r[0]) for r in rows]


def test_endpoint_predictions_reproduce_the_reported_accuracy(
    store: Path, first: dict[str, Any]
) -> None:
    features, labels = _test_rows(store)
    body = "\n".join(",".join(repr(v) for v in row) for row in features).encode()
    runtime = boto3.client(
        "sagemaker-runtime",
        endpoint_url=first["endpoint"]["url"],
        region_name="us-east-1",
        aws_access_key_id="local-test",
        aws_secret_access_key="local-test",
    )
    answer = runtime.invoke_endpoint(
        EndpointName=ENDPOINT, ContentType="text/csv", Accept="application/json", Body=body
    )
    assert answer["ContentType"] == "application/json"
    probabilities = np.asarray(json.loads(answer["Body"].read()))
    accuracy = float(np.mean(np.round(probabilities) == np.asarray(labels)))
    assert accuracy == pytest.approx(first["metrics"]["accuracy"], abs=1e-9)


def _post(url: str, body: bytes, content_type: str) -> tuple[int, str]:
    request = urllib.request.Request(
        f"{url}/invocations", data=body, method="POST", headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.mark.parametrize(
    ("body", "content_type", "status", "says"),
    [
        (b"1.0,2.0,3.0\n", "text/csv", 400, "feature"),
        (b"a,b\n", "text/csv", 400, "numbers"),
        (b"", "text/csv", 400, "empty"),
        (b"<x/>", "application/xml", 415, "application/xml"),
    ],
)
def test_bad_requests_get_4xx_and_the_server_keeps_serving(
    first: dict[str, Any], body: bytes, content_type: str, status: int, says: str
) -> None:
    url = first["endpoint"]["url"]
    code, text = _post(url, body, content_type)
    assert code == status and says in text.lower()
    assert urllib.request.urlopen(f"{url}/ping", timeout=10).status == 200
    assert _post(url, b"0.0,0.9\n", "text/csv")[0] == 200


def test_rerun_with_only_hidden_dim_changed_reuses_data_and_redeploys(
    store: Path, first: dict[str, Any]
) -> None:
    code, doc, stderr = run_json(store, "--start", "--param", "HiddenDim=40")
    assert code == 0, stderr
    hits = {s["name"]: s["cache_hit"] for s in doc["steps"]}
    assert hits["PrepareMoonData"] is True
    assert hits["TrainMoonClassifier"] is False and hits["EvaluateMoonClassifier"] is False
    assert doc["parameters"]["HiddenDim"] == 40
    assert doc["model_package_arn"].endswith("/moonpipe-models/2")
    assert doc["endpoint"]["url"] == first["endpoint"]["url"]  # updated in place
    listed = cli(store, "--list-endpoints", "--json")
    [endpoint] = json.loads(listed.stdout)["endpoints"]
    assert endpoint["name"] == ENDPOINT and endpoint["status"] == "InService"


def test_below_threshold_fails_registers_nothing_and_leaves_the_endpoint(
    store: Path, first: dict[str, Any]
) -> None:
    before = cli(store, "--list-endpoints", "--json").stdout
    packages = sorted((store / "registry").rglob("versions/*.json"))
    code, doc, _ = run_json(store, "--start", "--param", "AccuracyThreshold=0.999")
    assert code == 1 and doc["status"] == "Failed"
    reason = doc["failure_reason"]
    assert "accuracy" in reason.lower() and "0.999" in reason
    assert str(round(doc["metrics"]["accuracy"], 4))[:4] in reason
    assert doc["steps"][-1]["name"] == "AccuracyBelowThreshold"
    assert doc["model_package_arn"] is None
    assert sorted((store / "registry").rglob("versions/*.json")) == packages
    assert cli(store, "--list-endpoints", "--json").stdout == before
    assert _post(first["endpoint"]["url"], b"0.0,0.9\n", "text/csv")[0] == 200


def test_crashing_step_fails_the_run_with_its_reason_and_keeps_its_log(store: Path) -> None:
    # (this module's tests may run on several xdist workers, each with its own store: count
    # what this store holds, not what the tests before it in the file made)
    before = json.loads(cli(store, "--list-executions", "--json").stdout)["executions"]
    code, doc, _ = run_json(store, "--start", "--param", "NumPoints=10", "--param", "TestSize=0.95")
    assert code == 1 and doc["status"] == "Failed"
    [step] = doc["steps"]
    assert step["name"] == "PrepareMoonData" and step["status"] == "Failed"
    assert "--num-points" in doc["failure_reason"]
    assert "--num-points" in Path(step["log_path"]).read_text()
    described = cli(store, "--describe-execution", doc["execution_id"], "--json")
    assert described.returncode == 0  # records survive: a new process reads them back
    again = json.loads(described.stdout)
    assert again["status"] == "Failed" and again["failure_reason"] == doc["failure_reason"]
    listed = json.loads(cli(store, "--list-executions", "--json").stdout)["executions"]
    assert listed[0]["execution_id"] == doc["execution_id"] and len(listed) == len(before) + 1
    assert [e["execution_id"] for e in listed[1:]] == [e["execution_id"] for e in before]


def test_metrics_are_identical_with_jobs_started_cold(
    tmp_path: Path, store: Path, first: dict[str, Any]
) -> None:
    """The same seed gives the same model forked from the warm host or in a fresh python."""
    cold = tmp_path / "cold"
    assert cli(cold, "--upsert", job_start="subprocess").returncode == 0
    done = cli(
        cold, "--json", "--start", "--param", "AccuracyThreshold=0.999", job_start="subprocess"
    )
    doc = json.loads(done.stdout)
    assert [s["cache_hit"] for s in doc["steps"][:3]] == [False, False, False]
    assert doc["metrics"] == first["metrics"]
    assert not (cold / "warm").exists()  # no host was started for it


def test_the_warm_host_served_the_store_and_stops_on_command(
    store: Path, first: dict[str, Any]
) -> None:
    assert (store / "warm" / "host.sock").exists()
    record = json.loads((store / "endpoints" / ENDPOINT / "endpoint.json").read_text())
    cmdline = Path(f"/proc/{record['pid']}/cmdline").read_bytes().split(b"\0")
    assert cmdline[1].endswith(b"/warm/host.py")  # the first deploy was forked, torch warm
    stopped = json.loads(cli(store, "--stop-host", "--json").stdout)
    assert stopped["warm_host"]["stopped"] is True
    deadline = time.monotonic() + 30
    while (store / "warm" / "host.sock").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not (store / "warm" / "host.sock").exists()
    assert _post(first["endpoint"]["url"], b"0.0,0.9\n", "text/csv")[0] == 200  # outlives it
    again = cli(store, "--stop-host")
    assert (again.returncode, again.stdout) == (0, "no warm host was running\n")
