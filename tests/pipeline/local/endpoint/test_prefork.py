"""One endpoint, one worker process per core (issue 22): every worker serves, a hot swap
reaches all of them, and a worker that dies is replaced by one serving the current model."""

from __future__ import annotations

import http.client
import json
import os
import signal
import time
from pathlib import Path

from pipeline.local.endpoint.manager import deploy
from pipeline.local.endpoint.prefork import worker_count
from tests.pipeline.local.endpoint.deployed import make_artifact

TOKEN_HEADER = "X-Moonpipe-Token"


def workers_of(pid: int) -> set[int]:
    """The supervisor's children (its workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {int(child) for child in children}


def served_by(endpoint_dir: Path, connections: list[http.client.HTTPConnection]) -> list[tuple]:
    """(worker pid, config) that answers the status route on each kept-alive connection."""
    token = (endpoint_dir / "control.token").read_text().strip()
    answers = []
    for conn in connections:
        conn.request("GET", "/_moonpipe/status", headers={TOKEN_HEADER: token})
        response = conn.getresponse()
        status = json.loads(response.read())
        answers.append((status["pid"], status["config_name"]))
    return answers


def connections_to_every_worker(port: int, workers: set[int], endpoint_dir: Path) -> list:
    """Kept-alive connections until each worker holds at least one (the kernel picks)."""
    connections: list[http.client.HTTPConnection] = []
    seen: set[int] = set()
    while seen != workers and len(connections) < 200:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connections.append(conn)
        seen.add(served_by(endpoint_dir, [conn])[0][0])
    assert seen == workers
    return connections


def test_every_core_serves_and_a_swap_reaches_every_worker(store: Path, tmp_path: Path) -> None:
    first = deploy(store, "ep", "cfg-a", make_artifact(tmp_path / "a.tar.gz"), {})
    assert first.pid is not None and first.port is not None
    workers = workers_of(first.pid)
    assert len(workers) == worker_count()
    endpoint_dir = store / "endpoints" / "ep"
    connections = connections_to_every_worker(first.port, workers, endpoint_dir)
    second = deploy(store, "ep", "cfg-b", make_artifact(tmp_path / "b.tar.gz", scale=10), {})
    assert second.pid == first.pid and workers_of(first.pid) == workers
    assert {config for _, config in served_by(endpoint_dir, connections)} == {"cfg-b"}


def test_a_dead_worker_is_replaced_by_one_serving_the_current_model(
    store: Path, tmp_path: Path
) -> None:
    deploy(store, "ep", "cfg-a", make_artifact(tmp_path / "a.tar.gz"), {})
    info = deploy(store, "ep", "cfg-b", make_artifact(tmp_path / "b.tar.gz", scale=10), {})
    assert info.pid is not None and info.port is not None
    time.sleep(2.5)  # past the age under which a dying worker is not restarted
    before = workers_of(info.pid)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while (workers_of(info.pid) == before or len(workers_of(info.pid)) < len(before)) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.05)
    now = workers_of(info.pid)
    assert victim not in now and len(now) == len(before)
    endpoint_dir = store / "endpoints" / "ep"
    connections = connections_to_every_worker(info.port, now, endpoint_dir)
    assert {config for _, config in served_by(endpoint_dir, connections)} == {"cfg-b"}
