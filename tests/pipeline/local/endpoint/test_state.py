"""Deployments killed at the dangerous moments, and one deployment per endpoint at a time.

Real server processes throughout; the deployer is a separate process, SIGKILLed while the
record says Creating or Updating. Afterwards the endpoint must be listed, its record must
name the model the server really serves, and --delete-endpoint must end every server.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.core.errors import EndpointError
from pipeline.local.endpoint.manager import (
    delete_endpoint,
    deploy,
    describe_endpoint,
    invoke,
    list_endpoints,
)
from pipeline.local.endpoint.process import find_servers, spawn_server
from pipeline.local.endpoint.state import LOCK_FILE
from pipeline.local.liveness import try_lock
from tests.pipeline.local.endpoint.deployed import SLOW_PROGRAM, make_artifact
from tests.pipeline.local.engine import local_runner
from tests.pipeline.local.local_defs import pipeline

REPO = Path(__file__).resolve().parents[4]
DEPLOYER = """
import sys
from pathlib import Path
from pipeline.core.errors import EndpointError
from pipeline.local.endpoint.manager import deploy
import time
while not Path(sys.argv[4]).exists():  # a start line, so several deployers race for real
    time.sleep(0.001)
try:
    print(deploy(Path(sys.argv[1]), "ep", sys.argv[2], Path(sys.argv[3]), {}).config_name)
except EndpointError as exc:
    print(f"error: {exc}")
"""
SERVED = {"cfg-a": [3.0], "cfg-b": [-30.0]}  # what each model answers to "1,2"


@pytest.fixture
def models(tmp_path: Path) -> dict[str, Path]:
    return {
        "a": make_artifact(tmp_path / "a.tar.gz"),
        "slow-a": make_artifact(tmp_path / "slow-a.tar.gz", program=SLOW_PROGRAM),
        "slow-b": make_artifact(
            tmp_path / "slow-b.tar.gz", scale=10, helper="-sum(row)", program=SLOW_PROGRAM
        ),
    }


def _deployer(store: Path, config: str, model: Path, go: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", DEPLOYER, str(store), config, str(model), str(go)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )


def _record(store: Path) -> dict[str, Any]:
    path = store / "endpoints" / "ep" / "endpoint.json"
    with contextlib.suppress(OSError, ValueError):
        return json.loads(path.read_text())
    return {}


def _kill_when(
    proc: subprocess.Popen[str], store: Path, status: str, also: Callable[[], bool]
) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if _record(store).get("status") == status and also():
            proc.kill()
            proc.communicate()
            return
        time.sleep(0.002)
    raise AssertionError(f"the deployer never recorded {status}")


def _settled(store: Path) -> Any:
    """describe_endpoint once the server has finished loading (bounded)."""
    deadline = time.monotonic() + 30
    info = describe_endpoint(store, "ep")
    while info.status in ("Creating", "Updating") and time.monotonic() < deadline:
        time.sleep(0.05)
        info = describe_endpoint(store, "ep")
    return info


def _served(store: Path) -> list[float]:
    return json.loads(invoke(store, "ep", b"1,2\n", "text/csv"))["predictions"]


def test_killed_during_the_first_deploy_the_server_is_listed_serves_and_is_deletable(
    store: Path, models: dict[str, Path], tmp_path: Path
) -> None:
    go = tmp_path / "go"
    go.touch()
    deployer = _deployer(store, "cfg-a", models["slow-a"], go)
    endpoint_dir = store / "endpoints" / "ep"
    _kill_when(deployer, store, "Creating", lambda: bool(find_servers(endpoint_dir)))
    [listed] = list_endpoints(store)
    assert (listed.name, listed.status) in {("ep", "Creating"), ("ep", "InService")}
    info = _settled(store)
    assert (info.status, info.config_name) == ("InService", "cfg-a")
    assert _served(store) == SERVED["cfg-a"]
    assert find_servers(endpoint_dir) == [info.pid]
    delete_endpoint(store, "ep")
    assert find_servers(endpoint_dir) == []


def test_a_server_the_record_never_learned_of_is_found_and_deleted(
    store: Path, models: dict[str, Path]
) -> None:
    """The kill lands between starting the server and writing its pid down."""
    endpoint_dir = store / "endpoints" / "ep"
    model_dir = endpoint_dir / "models" / "cfg-a" / "v001" / "model"
    model_dir.mkdir(parents=True)
    subprocess.run(["tar", "-xzf", str(models["a"]), "-C", str(model_dir)], check=True)
    (endpoint_dir / "endpoint.json").write_text(
        json.dumps(
            {
                "name": "ep",
                "status": "Creating",
                "config_name": "cfg-a",
                "pid": None,
                "port": None,
                "url": "",
                "model_dir": str(model_dir),
                "environment": {
                    "SAGEMAKER_PROGRAM": "inference.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": f"{model_dir}/code",
                },
            }
        )
    )
    env = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": f"{model_dir}/code"}
    server = spawn_server(endpoint_dir, "ep", "cfg-a", model_dir, env, "127.0.0.1", None)
    info = _settled(store)
    assert (info.status, info.pid, info.config_name) == ("InService", server.pid, "cfg-a")
    assert _served(store) == SERVED["cfg-a"]
    delete_endpoint(store, "ep")
    assert server.wait(timeout=15) is not None
    assert find_servers(endpoint_dir) == []


def test_a_creating_record_with_no_server_reads_failed(store: Path) -> None:
    endpoint_dir = store / "endpoints" / "ep"
    endpoint_dir.mkdir(parents=True)
    (endpoint_dir / "endpoint.json").write_text(
        json.dumps({"name": "ep", "status": "Creating", "config_name": "cfg-a", "pid": None})
    )
    [info] = list_endpoints(store)
    assert (info.status, info.failure_reason) == (
        "Failed",
        "the deployment was interrupted before the server answered (the deploying "
        "process is gone); run the pipeline again",
    )
    delete_endpoint(store, "ep")
    assert list_endpoints(store) == []


@pytest.mark.parametrize("delay_s", [0.0, 0.5, 3.0])
def test_killed_during_a_hot_swap_the_record_names_the_served_model(
    store: Path, models: dict[str, Path], tmp_path: Path, delay_s: float
) -> None:
    first = deploy(store, "ep", "cfg-a", models["a"], {})
    go = tmp_path / "go"
    go.touch()
    proc = _deployer(store, "cfg-b", models["slow-b"], go)
    deadline = time.monotonic() + 30
    while (
        _record(store).get("status") != "Updating"
        and proc.poll() is None
        and time.monotonic() < deadline
    ):
        time.sleep(0.002)
    time.sleep(delay_s)
    proc.kill()
    proc.communicate()
    info = _settled(store)
    assert (info.status, info.pid, info.url) == ("InService", first.pid, first.url)
    assert _served(store) == SERVED[info.config_name]
    assert "pending" not in _record(store)


def test_a_deploy_while_another_is_in_progress_fails_with_sagemakers_reason(
    store: Path, models: dict[str, Path]
) -> None:
    deploy(store, "ep", "cfg-a", models["a"], {})
    before = _record(store)
    with try_lock(store / "endpoints" / "ep" / LOCK_FILE) as held:
        assert held
        with pytest.raises(EndpointError) as caught:
            deploy(store, "ep", "cfg-b", models["slow-b"], {})
    assert str(caught.value) == (
        'Cannot update in-progress endpoint "ep": it is being deployed by another execution; '
        "wait for it to finish (see --list-endpoints), then run again"
    )
    assert _record(store) == before
    assert _served(store) == SERVED["cfg-a"]


def test_concurrent_deploys_to_one_endpoint_never_silently_replace_each_other(
    store: Path, models: dict[str, Path], tmp_path: Path
) -> None:
    deploy(store, "ep", "cfg-a", models["a"], {})
    go = tmp_path / "go"
    racers = [
        _deployer(
            store,
            f"cfg-{scale}",
            make_artifact(tmp_path / f"{scale}.tar.gz", scale=scale, program=SLOW_PROGRAM),
            go,
        )
        for scale in (2, 4, 6, 8)
    ]
    time.sleep(1.0)  # let every racer reach the start line
    go.touch()
    results = [proc.communicate(timeout=60)[0].strip() for proc in racers]
    won = [r for r in results if not r.startswith("error:")]
    refused = [r for r in results if r.startswith("error:")]
    assert won and all(r.startswith("cfg-") for r in won), results
    assert all(
        r.startswith('error: Cannot update in-progress endpoint "ep": it is ') for r in refused
    ), results
    info = describe_endpoint(store, "ep")
    assert info.status == "InService" and info.config_name in won
    assert _served(store) == [3.0 * int(info.config_name[len("cfg-") :])]


def test_an_endpoint_step_meeting_a_deploy_in_progress_fails_the_execution(store: Path) -> None:
    runner = local_runner(store)
    runner.pipelines.upsert(pipeline(), None)
    endpoint_dir = store / "endpoints" / "ep"
    endpoint_dir.mkdir(parents=True)
    with try_lock(endpoint_dir / LOCK_FILE):
        summary = runner.run(runner.start("p", {}), lambda record: None)
    deploy_step = {s.name: s for s in summary.steps}["Deploy"]
    assert (summary.status, deploy_step.status) == ("Failed", "Failed")
    assert deploy_step.failure_reason == (
        'endpoint ep: Cannot update in-progress endpoint "ep": it is being deployed by another '
        "execution; wait for it to finish (see --list-endpoints), then run again"
    )


def test_the_server_never_sees_the_callers_aws_credentials(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    counting = make_artifact(
        tmp_path / "count.tar.gz",
        helper=("len([k for k in __import__('os').environ if k.startswith('AWS_')])"),
    )
    deploy(store, "ep", "cfg-a", counting, {})
    assert _served(store) == [0]
