"""Issue 21, findings 8 and 9: one endpoint never has two servers, and deleting it drains.

8. A record that cannot be read (not JSON, the wrong shape, a member of the wrong kind, or
   gone) used to make the next deploy start a second server while the first went on
   serving the old model on the old port, unrecorded. Now the deploy finds the running
   server by the facts (its process, ready file and status route) and swaps into it.
9. Deleting an endpoint under load used to reset requests in flight (the keep-alive
   connections never went idle, so the server was killed after 10 s). Now it drains: every
   request sent before the connection is closed gets its answer, and new connections are
   refused.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from pipeline.local.endpoint.manager import delete_endpoint, deploy, list_endpoints
from pipeline.local.endpoint.process import find_servers
from tests.pipeline.local.endpoint.deployed import make_artifact


@pytest.fixture
def artifacts(tmp_path: Path) -> dict[str, Path]:
    return {
        "a": make_artifact(tmp_path / "a.tar.gz"),
        "b": make_artifact(tmp_path / "b.tar.gz", scale=10, helper="-sum(row)"),
    }


def predictions(url: str) -> list[float]:
    request = urllib.request.Request(
        f"{url}/invocations", data=b"1,2\n", method="POST", headers={"Content-Type": "text/csv"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["predictions"]


@pytest.mark.parametrize(
    "damage",
    ["{not json", "[]", "null", '{"status": "InService", "port": "y", "pid": 1}', None],
    ids=["torn", "a-list", "null", "port-y", "removed"],
)
def test_a_damaged_record_never_leads_to_a_second_server(
    store: Path, artifacts: dict[str, Path], damage: str | None
) -> None:
    first = deploy(store, "ep", "cfg-a", artifacts["a"], {})
    endpoint_dir = store / "endpoints" / "ep"
    record = endpoint_dir / "endpoint.json"
    if damage is None:
        record.unlink()
    else:
        record.write_text(damage)
    second = deploy(store, "ep", "cfg-b", artifacts["b"], {})
    assert find_servers(endpoint_dir) == [first.pid]
    assert (second.url, second.pid, second.config_name, second.status) == (
        first.url,
        first.pid,
        "cfg-b",
        "InService",
    )
    assert predictions(second.url) == [-30.0]
    assert [(i.name, i.status, i.pid) for i in list_endpoints(store)] == [
        ("ep", "InService", first.pid)
    ]
    delete_endpoint(store, "ep")
    assert find_servers(endpoint_dir) == []


def test_a_damaged_record_lists_as_failed_not_a_traceback(
    store: Path, artifacts: dict[str, Path]
) -> None:
    deploy(store, "ep", "cfg-a", artifacts["a"], {})
    (store / "endpoints" / "ep" / "endpoint.json").write_text(
        '{"status": "InService", "port": "y"}'
    )
    (info,) = list_endpoints(store)
    assert (info.status, info.port) == ("Failed", None)
    assert "is unreadable" in str(info.failure_reason)


def test_deleting_under_load_answers_every_request_in_flight(
    store: Path, artifacts: dict[str, Path]
) -> None:
    info = deploy(store, "ep", "cfg-a", artifacts["a"], {})
    assert info.port is not None
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    stop = threading.Event()

    def client() -> None:
        """Keep-alive requests, one after another; after a Connection: close answer the
        next request opens a new connection (http.client does), which a deleted endpoint
        refuses."""
        conn = http.client.HTTPConnection("127.0.0.1", info.port, timeout=30)
        while not stop.is_set():
            try:
                conn.request("POST", "/invocations", b"1,2\n", {"Content-Type": "text/csv"})
                response = conn.getresponse()
                response.read()
                outcome = str(response.status)
            except ConnectionRefusedError:
                outcome = "refused"
            except (OSError, http.client.HTTPException) as exc:
                outcome = type(exc).__name__  # a reset, a hang-up: a request lost in flight
                conn.close()
            with lock:
                outcomes[outcome] += 1
            if outcome == "refused":
                return

    clients = [threading.Thread(target=client) for _ in range(6)]
    for thread in clients:
        thread.start()
    try:
        deadline = time.monotonic() + 60
        while sum(outcomes.values()) < 300 and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.monotonic()
        delete_endpoint(store, "ep")
        took = time.monotonic() - started
    finally:
        stop.set()
        for thread in clients:
            thread.join(60)
    assert set(outcomes) <= {"200", "refused"}, outcomes
    assert outcomes["200"] >= 300
    assert took < 9.5  # drained, not killed after the 10 s grace
    assert find_servers(store / "endpoints" / "ep") == []


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_server_whose_store_is_deleted_or_replaced_drains_and_exits(
    store: Path, artifacts: dict[str, Path], how: str
) -> None:
    """``make clean`` (rm -rf .moonpipe) used to leave every endpoint server serving for
    ever, a torch process each, with no record left to delete it by; a new store at the
    same path did not stop them either."""
    import shutil

    info = deploy(store, "ep", "cfg-a", artifacts["a"], {})
    assert info.pid is not None and predictions(info.url) == [3.0]
    shutil.rmtree(store / "endpoints")
    if how == "replaced":
        (store / "endpoints" / "ep").mkdir(parents=True)
    deadline = time.monotonic() + 30
    while _alive(info.pid):
        assert time.monotonic() < deadline, "the server outlived its store"
        time.sleep(0.1)
    with pytest.raises(OSError):
        predictions(info.url)


def _alive(pid: int) -> bool:
    """The process runs (a zombie, ended but not yet reaped, counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
