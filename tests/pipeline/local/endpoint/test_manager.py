"""Endpoint lifecycle with real server processes: deploy, invoke, hot swap, list, delete."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import botocore.exceptions
import pytest

from pipeline.core.errors import EndpointError
from pipeline.local.endpoint.manager import (
    _post,
    delete_endpoint,
    deploy,
    describe_endpoint,
    invoke,
    list_endpoints,
)
from tests.pipeline.local.endpoint.deployed import make_artifact

REPO = Path(__file__).resolve().parents[4]


@pytest.fixture
def artifacts(tmp_path: Path) -> dict[str, Path]:
    return {
        "a": make_artifact(tmp_path / "a.tar.gz"),
        "b": make_artifact(tmp_path / "b.tar.gz", scale=10, helper="-sum(row)"),
        "broken": make_artifact(tmp_path / "broken.tar.gz", broken=True),
        "no-code": make_artifact(tmp_path / "no-code.tar.gz", program=None),
    }


def post(url: str, body: bytes, content_type: str = "text/csv") -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def predictions(body: bytes) -> list[float]:
    return json.loads(body)["predictions"]


def test_deploy_serves_over_http_and_records_the_endpoint(
    store: Path, artifacts: dict[str, Path]
) -> None:
    info = deploy(store, "ep", "cfg-a", artifacts["a"], {})
    assert (info.status, info.url) == ("InService", f"http://127.0.0.1:{info.port}")
    with urllib.request.urlopen(f"{info.url}/ping", timeout=10) as response:
        assert response.status == 200
    for path in ("/invocations", "/endpoints/ep/invocations"):
        status, body = post(info.url + path, b"1,2\n3,4\n")
        assert (status, predictions(body)) == (200, [3.0, 7.0])
    assert predictions(invoke(store, "ep", b"0.5,0.5\n", "text/csv")) == [1.0]
    record = json.loads((store / "endpoints" / "ep" / "endpoint.json").read_text())
    assert (record["config_name"], record["url"], record["pid"]) == ("cfg-a", info.url, info.pid)
    assert Path(record["model_dir"]).is_relative_to(store / "endpoints" / "ep" / "models" / "cfg-a")
    assert record["environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == f"{record['model_dir']}/code"


def test_boto3_runtime_client_works_unchanged(store: Path, artifacts: dict[str, Path]) -> None:
    info = deploy(store, "ep", "cfg-a", artifacts["a"], {})
    client = boto3.client(
        "sagemaker-runtime",
        endpoint_url=info.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    response = client.invoke_endpoint(EndpointName="ep", ContentType="text/csv", Body=b"1,2\n")
    assert response["ContentType"] == "application/json"
    assert predictions(response["Body"].read()) == [3.0]
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        client.invoke_endpoint(EndpointName="ep", ContentType="text/csv", Body=b"1,x\n")
    assert caught.value.response["Error"] == {
        "Code": "ModelError",
        "Message": "features must be numbers, like 0.5,-1.0",
    }
    assert caught.value.response["OriginalStatusCode"] == 400


def test_handler_errors_reach_the_caller_and_the_server_stays_up(
    store: Path, artifacts: dict[str, Path]
) -> None:
    deploy(store, "ep", "cfg-a", artifacts["a"], {})
    with pytest.raises(EndpointError) as caught:
        invoke(store, "ep", b"1,x\n", "text/csv")
    assert str(caught.value) == (
        "endpoint 'ep' answered HTTP 400: features must be numbers, like 0.5,-1.0"
    )
    with pytest.raises(EndpointError) as caught:
        invoke(store, "ep", b"13\n", "text/csv")
    assert str(caught.value) == (
        "endpoint 'ep' answered HTTP 500: model handler raised ZeroDivisionError: unlucky"
    )
    assert predictions(invoke(store, "ep", b"2\n", "text/csv")) == [2.0]


def test_hot_swap_keeps_the_url_and_refuses_no_request(
    store: Path, artifacts: dict[str, Path]
) -> None:
    first = deploy(store, "ep", "cfg-a", artifacts["a"], {})
    seen: list[object] = []
    stop = threading.Event()

    def hammer() -> None:
        for _ in range(5000):  # bounded, even if the swap never happens
            if stop.is_set():
                return
            try:
                status, body = post(f"{first.url}/invocations", b"1,2\n")
                seen.append(predictions(body) if status == 200 else status)
            except OSError as exc:
                seen.append(exc)

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        while len(seen) < 20 and thread.is_alive():
            stop.wait(0.01)
        second = deploy(store, "ep", "cfg-b", artifacts["b"], {})
        after = len(seen)
        while len(seen) < after + 20 and thread.is_alive():
            stop.wait(0.01)
    finally:
        stop.set()
        thread.join()
    assert (second.url, second.pid, second.config_name) == (first.url, first.pid, "cfg-b")
    assert [s for s in seen if s not in ([3.0], [-30.0])] == []
    assert seen[0] == [3.0] and seen[-1] == [-30.0]


def test_broken_update_keeps_the_old_model_serving(store: Path, artifacts: dict[str, Path]) -> None:
    deploy(store, "ep", "cfg-a", artifacts["a"], {})
    with pytest.raises(EndpointError) as caught:
        deploy(store, "ep", "cfg-b", artifacts["broken"], {})
    assert str(caught.value) == (
        "endpoint 'ep' kept serving 'cfg-a': update to 'cfg-b' failed: "
        "config 'cfg-b': loading inference.py raised RuntimeError: "
        "weights are corrupt"
    )
    assert predictions(invoke(store, "ep", b"1,2\n", "text/csv")) == [3.0]
    info = describe_endpoint(store, "ep")
    assert (info.status, info.config_name, info.failure_reason) == (
        "InService",
        "cfg-a",
        str(caught.value),
    )


def test_first_deploy_without_serving_code_fails_and_is_recorded(
    store: Path, artifacts: dict[str, Path]
) -> None:
    with pytest.raises(EndpointError) as caught:
        deploy(store, "ep", "cfg-a", artifacts["no-code"], {})
    code_dir = store / "endpoints" / "ep" / "models" / "cfg-a" / "v001" / "model" / "code"
    assert str(caught.value) == (
        f"endpoint 'ep' failed to start: config 'cfg-a': inference.py "
        f"not found in {code_dir}; ship the serving code in "
        "model.tar.gz under code/"
    )
    [info] = list_endpoints(store)
    assert (info.status, info.pid, info.failure_reason) == ("Failed", None, str(caught.value))


def test_corrupt_and_unsafe_archives_are_refused(store: Path, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.tar.gz"
    corrupt.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(EndpointError) as caught:
        deploy(store, "ep", "cfg-a", corrupt, {})
    assert str(caught.value).startswith(f"model data {corrupt} is not a readable model.tar.gz (")
    assert str(caught.value).endswith("); re-run the training step")
    unsafe = tmp_path / "unsafe.tar.gz"
    with tarfile.open(unsafe, "w:gz") as tar:
        link = tarfile.TarInfo("code/inference.py")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(EndpointError) as caught:
        deploy(store, "ep", "cfg-a", unsafe, {})
    assert str(caught.value) == (
        f"model data {unsafe} holds an unsafe member 'code/inference.py' "
        "(link, device or path outside the archive); rebuild the archive"
    )
    assert list((store / "endpoints" / "ep" / "models" / "cfg-a").iterdir()) == []


def test_the_server_outlives_the_deploying_process(store: Path, artifacts: dict[str, Path]) -> None:
    script = (
        "import sys; from pathlib import Path; "
        "from pipeline.local.endpoint.manager import deploy; "
        "deploy(Path(sys.argv[1]), 'ep', 'cfg-a', Path(sys.argv[2]), {})"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(store), str(artifacts["a"])],
        cwd=REPO,
        check=True,
        timeout=60,
    )
    assert describe_endpoint(store, "ep").status == "InService"
    assert predictions(invoke(store, "ep", b"1,2\n", "text/csv")) == [3.0]


def test_redeploy_after_the_server_died_keeps_the_port(
    store: Path, artifacts: dict[str, Path]
) -> None:
    first = deploy(store, "ep", "cfg-a", artifacts["a"], {})
    os.kill(first.pid, signal.SIGKILL)
    for _ in range(200):  # SIGKILL is asynchronous: wait (bounded) until it has landed
        if describe_endpoint(store, "ep").status != "InService":
            break
        threading.Event().wait(0.02)
    assert describe_endpoint(store, "ep").status == "OutOfService"
    second = deploy(store, "ep", "cfg-b", artifacts["b"], {})
    assert (second.url, second.status) == (first.url, "InService")
    assert second.pid != first.pid
    assert predictions(invoke(store, "ep", b"1,2\n", "text/csv")) == [-30.0]


def test_a_port_in_use_is_a_clear_failure(store: Path, artifacts: dict[str, Path]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(EndpointError) as caught:
            deploy(store, "ep", "cfg-a", artifacts["a"], {}, port=port)
    assert str(caught.value) == (
        f"endpoint 'ep' failed to start: cannot listen on "
        f"127.0.0.1:{port} (Address already in use); free the port, or "
        "delete the endpoint and deploy again for a new one"
    )
    assert describe_endpoint(store, "ep").status == "Failed"


def test_list_describe_delete(store: Path, artifacts: dict[str, Path]) -> None:
    one = deploy(store, "one", "cfg-a", artifacts["a"], {})
    deploy(store, "two", "cfg-a", artifacts["a"], {})
    assert [(i.name, i.status) for i in list_endpoints(store)] == [
        ("one", "InService"),
        ("two", "InService"),
    ]
    assert describe_endpoint(store, "one") == one
    delete_endpoint(store, "one")
    assert not Path(f"/proc/{one.pid}").exists()
    assert [i.name for i in list_endpoints(store)] == ["two"]
    with pytest.raises(EndpointError) as caught:
        describe_endpoint(store, "one")
    assert str(caught.value) == (
        "endpoint 'one' does not exist; run --list-endpoints to see the endpoints there are"
    )


def test_stale_or_unreadable_records_read_out_of_service(store: Path) -> None:
    finished = subprocess.Popen(["true"])
    finished.wait()
    stale = {
        "name": "old",
        "status": "InService",
        "config_name": "cfg",
        "pid": finished.pid,
        "port": 1,
        "url": "http://127.0.0.1:1",
        "model_dir": None,
    }
    (store / "endpoints" / "old").mkdir(parents=True)
    (store / "endpoints" / "old" / "endpoint.json").write_text(json.dumps(stale))
    (store / "endpoints" / "torn").mkdir()
    (store / "endpoints" / "torn" / "endpoint.json").write_text("{not json")
    assert [(i.name, i.status, i.pid) for i in list_endpoints(store)] == [
        ("old", "OutOfService", None),
        ("torn", "Failed", None),
    ]
    with pytest.raises(EndpointError) as caught:
        invoke(store, "old", b"1\n", "text/csv")
    assert str(caught.value) == (
        "endpoint 'old' is OutOfService; deploy it again (run the pipeline) or see --list-endpoints"
    )
    delete_endpoint(store, "old")
    assert [i.name for i in list_endpoints(store)] == ["torn"]


def test_delete_unknown_endpoint_names_it(store: Path) -> None:
    for act in (
        lambda: delete_endpoint(store, "nope"),
        lambda: invoke(store, "nope", b"1,2\n", "text/csv"),
    ):
        with pytest.raises(EndpointError) as caught:
            act()
        assert str(caught.value) == (
            "endpoint 'nope' does not exist; run --list-endpoints to see the endpoints there are"
        )
        assert caught.value.exit_code == 2  # a usage error: nothing was sent


def test_invalid_names_are_refused(store: Path, artifacts: dict[str, Path]) -> None:
    for act in (
        lambda: deploy(store, "../escape", "cfg-a", artifacts["a"], {}),
        lambda: delete_endpoint(store, "../escape"),
        lambda: invoke(store, "../escape", b"1,2\n", "text/csv"),
    ):
        with pytest.raises(EndpointError) as caught:
            act()
        assert str(caught.value) == (
            "invalid endpoint name '../escape': use 1-63 letters, "
            "digits and hyphens, starting with a letter or digit"
        )
        assert caught.value.exit_code == 2


def test_a_payload_over_6_mb_is_refused_before_sending(
    store: Path, artifacts: dict[str, Path]
) -> None:
    deploy(store, "ep", "cfg-a", artifacts["a"], {})
    big = b"1,2\n" * 1_600_000  # 6.4 MB
    with pytest.raises(EndpointError) as caught:
        invoke(store, "ep", big, "text/csv")
    assert str(caught.value) == (
        f"payload of {len(big)} bytes exceeds the 6291456-byte limit; send smaller batches"
    )
    assert caught.value.exit_code == 2
    assert predictions(invoke(store, "ep", b"2\n", "text/csv")) == [2.0]


class _AnswersEarly(BaseHTTPRequestHandler):
    """Answers 413 and closes without reading the body, as a server guarding its memory does."""

    def do_POST(self) -> None:
        body = json.dumps({"error": "payload too large for this server"}).encode()
        self.send_response(413)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *_: object) -> None:
        pass


def test_an_answer_sent_before_the_body_was_read_is_reported() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AnswersEarly)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        status, body = _post(url, "/endpoints/ep/invocations", b"x" * 8_000_000, {})
    finally:
        server.shutdown()
        server.server_close()
    assert (status, json.loads(body)) == (413, {"error": "payload too large for this server"})


def test_a_model_trained_by_train_py_serves(store: Path, tmp_path: Path) -> None:
    """The real artifact (torch state_dict + code/) loads and answers through its handlers."""
    train_dir, model_dir = tmp_path / "train", tmp_path / "model"
    train_dir.mkdir()
    rows = [f"{i % 2},{(i % 7) / 7 - 0.5 * (i % 2)},{(i % 5) / 5}" for i in range(40)]
    (train_dir / "train.csv").write_text("\n".join(rows) + "\n")
    env = {
        **os.environ,
        "SM_CHANNEL_TRAIN": str(train_dir),
        "SM_MODEL_DIR": str(model_dir),
        "SM_OUTPUT_DATA_DIR": str(tmp_path / "out"),
        "OMP_NUM_THREADS": "1",
    }
    subprocess.run(
        [sys.executable, "train.py", "--epochs", "2"],
        cwd=REPO / "entrypoints",
        env=env,
        check=True,
        timeout=120,
        capture_output=True,
    )
    artifact = tmp_path / "model.tar.gz"
    with tarfile.open(artifact, "w:gz") as tar:
        tar.add(model_dir, arcname=".")
    deploy(store, "ep", "cfg-real", artifact, {}, timeout_s=120)
    probabilities = json.loads(invoke(store, "ep", b"0.0,0.9\n1.0,-0.5\n", "text/csv"))
    assert len(probabilities) == 2
    assert all(0.0 <= p <= 1.0 for p in probabilities)
    with pytest.raises(EndpointError) as caught:
        invoke(store, "ep", b"a,b\n", "text/csv")
    assert str(caught.value).startswith("endpoint 'ep' answered HTTP 400: ")
