"""Endpoint records that a killed deployment left half-way, settled from the facts.

A deployment writes the endpoint's record *before* each dangerous moment (DescribeEndpoint's
statuses): ``Creating`` before a server is started, ``Updating`` with the ``pending`` record
before a hot swap. While the deployer lives it holds the endpoint's lock. Whoever finds the
lock free and a record still Creating or Updating knows the deployer is gone and settles the
record by asking what is really running: the server process (found by its command line, so
even one started a moment before the kill), its ready file and its own ``status`` route.
So every running server is recorded, and the record names the model the server serves.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from pipeline.core.errors import EndpointError
from pipeline.local.endpoint.process import (
    find_servers,
    loopback_opener,
    read_json_or_none,
    server_alive,
)
from pipeline.local.store.atomic import write_json

RECORD_FILE = "endpoint.json"
LOCK_FILE = ".lock"
IN_PROGRESS = ("Creating", "Updating")
_EXEC_WINDOW_S = 0.25


def settle(endpoint_dir: Path, record: dict[str, Any]) -> dict[str, Any]:
    """The record once a dead deployer's Creating/Updating is resolved (call under the lock)."""
    if record.get("status") == "Creating":
        record = _settle_creating(endpoint_dir, record)
    elif record.get("status") == "Updating":
        record = _settle_updating(endpoint_dir, record)
    else:
        return record
    write_json(endpoint_dir / RECORD_FILE, record)
    return record


def _settle_creating(endpoint_dir: Path, record: dict[str, Any]) -> dict[str, Any]:
    """A server that answers /ping becomes the InService endpoint; none means Failed."""
    live = find_servers(endpoint_dir)
    if not live:  # a process mid-exec shows no command line yet: look once more
        time.sleep(_EXEC_WINDOW_S)
        live = find_servers(endpoint_dir)
    ready = read_json_or_none(endpoint_dir / "server.json") or {}
    if ready.get("pid") in live and _pings(ready.get("port")):
        port = int(ready["port"])
        return {
            **record,
            "status": "InService",
            "pid": ready["pid"],
            "port": port,
            "url": f"http://127.0.0.1:{port}",
            "failure_reason": None,
        }
    if live:  # still loading its model: Creating is the truth, until it serves or dies
        return {**record, "pid": live[0]}
    return {
        **record,
        "status": "Failed",
        "pid": None,
        "failure_reason": "the deployment was interrupted before the server answered "
        "(the deploying process is gone); run the pipeline again",
    }


def _settle_updating(endpoint_dir: Path, record: dict[str, Any]) -> dict[str, Any]:
    """Commit the pending model if the server serves it, else roll back to the old one.

    The killed deployer's reload request may still be loading inside the server; a reload
    of the old model queues behind it (the server swaps one at a time), so after it the
    server serves what the record will name.
    """
    pending = record.get("pending") or {}
    old = {k: v for k, v in record.items() if k != "pending"}
    old["status"] = "InService"
    if not server_alive(record, endpoint_dir):
        return old  # reads OutOfService: the server itself is gone
    try:
        served = control(endpoint_dir, record, "status", None, 10)
        if _same_model(served, pending):
            return pending
        spec = {k: old.get(k) for k in ("config_name", "model_dir", "environment")}
        served = control(endpoint_dir, record, "reload", json.dumps(spec).encode(), 120)
    except EndpointError as exc:
        return {
            **old,
            "status": "Failed",
            "failure_reason": f"an update was interrupted and the server cannot be brought "
            f"back to {old.get('config_name')!r} ({exc}); delete and "
            "redeploy",
        }
    if _same_model(served, old):
        return {
            **old,
            "failure_reason": f"the update to {pending.get('config_name')!r} was "
            f"interrupted; rolled back to {old.get('config_name')!r}",
        }
    return {
        **old,
        "status": "Failed",
        "failure_reason": f"the server serves {served.get('config_name')!r}, which no "
        "record names; delete and redeploy",
    }


def _same_model(served: dict[str, Any], record: dict[str, Any]) -> bool:
    if not record.get("model_dir") or served.get("config_name") != record.get("config_name"):
        return False
    return Path(str(served.get("model_dir"))).resolve() == Path(record["model_dir"]).resolve()


def _pings(port: Any) -> bool:
    if not isinstance(port, int):
        return False
    url = f"http://127.0.0.1:{port}/ping"
    with contextlib.suppress(OSError), loopback_opener.open(url, timeout=2) as response:
        return response.status == 200
    return False


def control(
    endpoint_dir: Path, record: dict[str, Any], action: str, body: bytes | None, timeout_s: float
) -> dict[str, Any]:
    """Call a control route with the endpoint's token; errors carry the server's message."""
    try:
        token = (endpoint_dir / "control.token").read_text().strip()
    except OSError as exc:
        raise EndpointError(f"cannot read the control token ({exc.strerror})") from None
    request = urllib.request.Request(
        f"{record['url']}/_moonpipe/{action}",
        data=body,
        method="POST" if body is not None else "GET",
        headers={"X-Moonpipe-Token": token, "Content-Type": "application/json"},
    )
    try:
        with loopback_opener.open(request, timeout=timeout_s) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise EndpointError(error_message(exc.read())) from None
    except (urllib.error.URLError, OSError) as exc:
        raise EndpointError(f"server not reachable at {record['url']} ({exc})") from None


def error_message(body: bytes) -> str:
    """The server's one-line message from an error body (JSON ``error`` or plain text)."""
    try:
        return str(json.loads(body)["error"])
    except (ValueError, KeyError, TypeError):
        return " ".join(body.decode("utf-8", "replace").split())[:500] or "no message"
