"""Local endpoints: deploy, hot-swap, list, delete and invoke a model server on 127.0.0.1.

Everything lives under ``<store_root>/endpoints/<name>/``: ``endpoint.json`` (the record,
written atomically), ``models/<config_name>/vNNN/model/`` (each deployed model.tar.gz,
extracted once and never overwritten), ``server.log``, and the server's ``control.token``.
The server (pipeline/local/endpoint/server.py) is a detached process, like a real endpoint it
lives until deleted; starting, watching and stopping it is pipeline/local/endpoint/process.py.
A redeploy of a live endpoint loads the new model inside the running server and swaps it in,
so the URL stays the same and no request is refused: the manager POSTs ``/_moonpipe/reload``
(loopback, with the token), which answers with the new model's status once every worker of
the server serves it, or 422 with the load error while the old model keeps serving.
Delete = SIGTERM, which drains the server. A deploy never starts a second server beside one
the record does not name (a damaged record): it finds it by the facts and swaps into it.

Nothing here imports torch: the engine imports this module for every run.
"""

from __future__ import annotations

import contextlib
import json
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.core.errors import EndpointError, EndpointUsageError
from pipeline.core.names import utc_now
from pipeline.local.container_paths import map_env
from pipeline.local.endpoint.artifact import unpack_model
from pipeline.local.endpoint.folder import (
    check_name,
    endpoint_folder,
    in_progress_message,
    read_record,
    require_record,
    settled_record,
)
from pipeline.local.endpoint.process import (
    find_servers,
    locked,
    read_json_or_none,
    server_alive,
    spawn_server,
    stop_server,
    wait_until_serving,
)
from pipeline.local.endpoint.state import (
    LOCK_FILE,
    RECORD_FILE,
    control,
    error_message,
    settle,
)
from pipeline.local.liveness import try_lock
from pipeline.local.store.atomic import write_json
from pipeline.local.store.layout import StoreLayout

_MODEL_ENV_DEFAULTS = {
    "SAGEMAKER_PROGRAM": "inference.py",
    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
}


@dataclass(frozen=True)
class EndpointInfo:
    """An endpoint as its record and a liveness check describe it."""

    name: str
    url: str
    config_name: str
    status: str  # Creating | Updating | InService | Failed | OutOfService (server gone)
    pid: int | None
    port: int | None
    model_dir: str | None
    failure_reason: str | None = None
    log_path: str | None = None


def deploy(
    store_root: Path,
    endpoint_name: str,
    config_name: str,
    model_data: Path,
    environment: Mapping[str, str],
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    timeout_s: float = 60,
) -> EndpointInfo:
    """Create the endpoint, or update it in place if its server is alive.

    ``port`` only matters when a server starts; an update keeps the running server's port.
    One deployment per endpoint at a time, as on SageMaker: while another process creates
    or updates it, this one fails at once with SageMaker's "Cannot update in-progress
    endpoint" instead of queueing behind it and silently replacing its model.

    Raises:
        EndpointError: bad name, unreadable archive, an update already in progress, or a
            model that fails to load (on an update the old model keeps serving).
    """
    check_name(endpoint_name, "endpoint")
    check_name(config_name, "endpoint config")
    if not Path(model_data).is_file():
        raise EndpointError(
            f"model data {model_data} does not exist; run the training step "
            "first or pass the path of a model.tar.gz"
        )
    endpoint_dir = endpoint_folder(store_root, endpoint_name)
    with try_lock(endpoint_dir / LOCK_FILE) as acquired:
        if not acquired:
            raise EndpointError(in_progress_message(endpoint_dir, endpoint_name))
        record = read_record(endpoint_dir)
        record = None if record is None else settle(endpoint_dir, record)
        if record is None or not server_alive(record, endpoint_dir):
            record = _unrecorded_server(endpoint_dir, endpoint_name) or record
        job_root = unpack_model(endpoint_dir, config_name, Path(model_data))
        env = map_env({**_MODEL_ENV_DEFAULTS, **environment}, job_root)
        if record is not None and server_alive(record, endpoint_dir):
            record = _hot_swap(
                endpoint_dir, record, config_name, job_root / "model", env, timeout_s
            )
        else:
            if port is None and record is not None:
                port = record.get("port")
            record = _start_server(
                endpoint_dir,
                endpoint_name,
                config_name,
                job_root / "model",
                env,
                host,
                port,
                timeout_s,
                record,
            )
    return _info(record, endpoint_dir)


def list_endpoints(store_root: Path) -> list[EndpointInfo]:
    """Every recorded endpoint, sorted by name; a dead server shows as OutOfService."""
    root = StoreLayout(Path(store_root).resolve()).endpoints()
    records = sorted(root.glob(f"*/{RECORD_FILE}")) if root.is_dir() else []
    return [_info(settled_record(p.parent) or {"name": p.parent.name}, p.parent) for p in records]


def describe_endpoint(store_root: Path, name: str) -> EndpointInfo:
    """One endpoint; raises EndpointError if there is none of that name."""
    endpoint_dir = endpoint_folder(store_root, name, create=False)
    require_record(endpoint_dir, name)
    return _info(settled_record(endpoint_dir) or {"name": name}, endpoint_dir)


def delete_endpoint(store_root: Path, name: str) -> None:
    """Stop the server (SIGTERM, then SIGKILL after 10 s) and archive the record.

    Models and server.log stay on disk: what was deployed is never lost.
    """
    endpoint_dir = endpoint_folder(store_root, name, create=False)
    with locked(endpoint_dir):
        record = require_record(endpoint_dir, name)
        pids = set(find_servers(endpoint_dir))  # also a server the record never learned of
        if server_alive(record, endpoint_dir):
            pids.add(int(record["pid"]))
        for pid in sorted(pids):
            stop_server(pid)
        stamp = utc_now().strftime("%Y%m%dT%H%M%S%fZ")
        os.replace(endpoint_dir / RECORD_FILE, endpoint_dir / f"endpoint.deleted-{stamp}.json")
        for leftover in ("server.json", "control.token"):
            (endpoint_dir / leftover).unlink(missing_ok=True)


def invoke(
    store_root: Path, name: str, body: bytes, content_type: str, accept: str = "application/json"
) -> bytes:
    """POST to the runtime route; an error answer becomes EndpointError with its message.

    A body over SageMaker's 6 MB limit is refused before sending (EndpointUsageError, with
    the server's own wording); should the server still refuse a body before reading all of
    it, its answer is read and reported rather than the broken pipe the sending hit.
    (http.client and the server's limits are imported here: ~20 ms every run's deploy
    step would otherwise pay for a call only --invoke makes.)
    """
    import http.client

    from pipeline.local.endpoint.http_limits import MAX_PAYLOAD_BYTES

    info = describe_endpoint(store_root, name)
    if info.status != "InService":
        raise EndpointError(
            f"endpoint {name!r} is {info.status}; deploy it again "
            "(run the pipeline) or see --list-endpoints"
        )
    if len(body) > MAX_PAYLOAD_BYTES:
        raise EndpointUsageError(
            f"payload of {len(body)} bytes exceeds the "
            f"{MAX_PAYLOAD_BYTES}-byte limit; send smaller batches"
        )
    headers = {"Content-Type": content_type, "Accept": accept}
    try:
        status, answer = _post(info.url, f"/endpoints/{name}/invocations", body, headers)
    except (OSError, http.client.HTTPException) as exc:
        raise EndpointError(
            f"endpoint {name!r} is not reachable at {info.url} ({exc}); see {info.log_path}"
        ) from None
    if status >= 400:
        raise EndpointError(f"endpoint {name!r} answered HTTP {status}: {error_message(answer)}")
    return answer


def _post(
    url: str, path: str, body: bytes, headers: Mapping[str, str], timeout_s: float = 70
) -> tuple[int, bytes]:
    """(status, body) of one POST to a loopback server, even one that answered early.

    A server may answer (413, 400) and close without reading the whole body; sending then
    fails with a broken pipe or reset, but the answer is already waiting to be read.
    """
    import http.client

    where = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=timeout_s)
    try:
        # On a broken pipe, read the answer the server sent before it stopped reading.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.request("POST", path, body=body, headers=dict(headers))
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _start_server(
    endpoint_dir: Path,
    name: str,
    config_name: str,
    model_dir: Path,
    env: dict[str, str],
    host: str,
    port: int | None,
    timeout_s: float,
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    """Record Creating, start a detached server, wait for /ping; record InService or Failed.

    The record exists before the server does, so a kill at any moment leaves a record that
    lists the endpoint; the server's pid needs no second write (each costs an fsync): delete
    and endpoint_state find a server by its command line.
    """
    record = _new_record(previous, name, config_name, model_dir, env, None, port)
    write_json(endpoint_dir / RECORD_FILE, {**record, "status": "Creating"})
    proc = spawn_server(endpoint_dir, name, config_name, model_dir, env, host, port)
    record["pid"] = proc.pid
    try:
        record["port"] = wait_until_serving(proc, endpoint_dir, timeout_s)
    except EndpointError as exc:
        if proc.poll() is None:
            stop_server(proc.pid)
        write_json(
            endpoint_dir / RECORD_FILE,
            {**record, "status": "Failed", "pid": None, "failure_reason": str(exc)},
        )
        raise
    record["url"] = f"http://127.0.0.1:{record['port']}"
    write_json(endpoint_dir / RECORD_FILE, record)
    return record


def _hot_swap(
    endpoint_dir: Path,
    record: dict[str, Any],
    config_name: str,
    model_dir: Path,
    env: dict[str, str],
    timeout_s: float,
) -> dict[str, Any]:
    """Ask the live server to load the new model and swap; the old one serves meanwhile.

    Record the pending model (Updating), swap (the server's answer confirms what it serves),
    then commit: a kill in between leaves a record endpoint_state settles by asking the
    server what it serves.
    """
    spec = {"config_name": config_name, "model_dir": str(model_dir), "environment": env}
    updated = _new_record(
        record, record["name"], config_name, model_dir, env, record["pid"], record["port"]
    )
    updated["url"] = record["url"]
    write_json(endpoint_dir / RECORD_FILE, {**record, "status": "Updating", "pending": updated})
    try:
        # The reload answers once every worker serves the new model, with its status.
        status = control(endpoint_dir, record, "reload", json.dumps(spec).encode(), timeout_s)
        if status.get("config_name") != config_name:
            raise EndpointError(f"server still reports {status.get('config_name')!r}")
    except EndpointError as exc:
        reason = (
            f"endpoint {record['name']!r} kept serving {record['config_name']!r}: "
            f"update to {config_name!r} failed: {exc}"
        )
        write_json(
            endpoint_dir / RECORD_FILE, {**record, "status": "InService", "failure_reason": reason}
        )
        raise EndpointError(reason) from None
    write_json(endpoint_dir / RECORD_FILE, updated)
    return updated


def _unrecorded_server(endpoint_dir: Path, name: str) -> dict[str, Any] | None:
    """A live server of this endpoint that the record does not name (a damaged or missing
    record), as a record made from its own facts: its ready file (pid, port) and its status
    route (what it serves). The deploy then swaps into it, so there is never a second server
    on one endpoint; a server that cannot say what it serves is stopped first.
    """
    ready = read_json_or_none(endpoint_dir / "server.json") or {}
    found = None
    for pid in find_servers(endpoint_dir):
        port = ready.get("port")
        if found is None and ready.get("pid") == pid and isinstance(port, int):
            url = f"http://127.0.0.1:{port}"
            with contextlib.suppress(EndpointError, KeyError, TypeError):
                served = control(endpoint_dir, {"url": url}, "status", None, 10)
                found = _new_record(
                    None, name, str(served["config_name"]), Path(served["model_dir"]), {}, pid, port
                )
                found.update(url=url, created_at=served.get("loaded_at", found["created_at"]))
                continue
        stop_server(pid)
    return found


def _new_record(
    previous: dict[str, Any] | None,
    name: str,
    config_name: str,
    model_dir: Path,
    env: dict[str, str],
    pid: int | None,
    port: int | None,
) -> dict[str, Any]:
    now = utc_now().isoformat()
    history = list((previous or {}).get("history", []))
    history.append({"config_name": config_name, "model_dir": str(model_dir), "deployed_at": now})
    return {
        "name": name,
        "status": "InService",
        "config_name": config_name,
        "model_dir": str(model_dir),
        "environment": env,
        "pid": pid,
        "port": port,
        "url": (previous or {}).get("url", ""),
        "failure_reason": None,
        "created_at": (previous or {}).get("created_at", now),
        "updated_at": now,
        "history": history,
    }


def _info(record: Mapping[str, Any], endpoint_dir: Path) -> EndpointInfo:
    """The record as EndpointInfo; InService with no live server reads OutOfService."""
    status = str(record.get("status", "OutOfService"))
    if status == "InService" and not server_alive(record, endpoint_dir):
        status = "OutOfService"
    port = record.get("port")
    return EndpointInfo(
        name=str(record.get("name", endpoint_dir.name)),
        url=str(record.get("url") or ""),
        config_name=str(record.get("config_name", "")),
        status=status,
        pid=record.get("pid") if status == "InService" else None,
        port=int(port) if port else None,
        model_dir=record.get("model_dir"),
        failure_reason=record.get("failure_reason"),
        log_path=str(endpoint_dir / "server.log"),
    )
