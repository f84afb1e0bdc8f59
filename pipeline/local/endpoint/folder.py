"""Where an endpoint lives (``<store_root>/endpoints/<name>/``) and reading its record
(settled first when its deployer died half-way).

Split from pipeline/local/endpoint/manager.py; names are checked against SageMaker's
endpoint name rule (pipeline.core.names) before they become a folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.core.errors import EndpointNotFoundError, EndpointUsageError
from pipeline.core.names import RESOURCE_NAME_TEXT, is_resource_name
from pipeline.local.endpoint.process import read_json_or_none
from pipeline.local.endpoint.state import IN_PROGRESS, LOCK_FILE, RECORD_FILE, settle
from pipeline.local.liveness import try_lock
from pipeline.local.store.layout import StoreLayout
from pipeline.local.store.schema import EndpointRecord, problem_of


def endpoint_folder(store_root: Path, name: str, create: bool = True) -> Path:
    """The endpoint's folder (made unless ``create`` is False); the name is checked first."""
    check_name(name, "endpoint")
    path = StoreLayout(Path(store_root).resolve()).endpoints() / name
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def check_name(name: str, what: str) -> None:
    """EndpointUsageError unless SageMaker accepts ``name`` as an endpoint (config) name."""
    if not is_resource_name(name):
        raise EndpointUsageError(f"invalid {what} name {name!r}: use {RESOURCE_NAME_TEXT}")


def require_record(endpoint_dir: Path, name: str) -> dict[str, Any]:
    """The record; EndpointNotFoundError if there is none."""
    record = read_record(endpoint_dir)
    if record is None:
        raise EndpointNotFoundError(
            f"endpoint {name!r} does not exist; run --list-endpoints to see the endpoints there are"
        )
    return record


def read_record(endpoint_dir: Path) -> dict[str, Any] | None:
    """The record, None if absent; an unreadable record (not JSON, or a member of the wrong
    kind) reads as a Failed endpoint, and the next deploy finds its server by the facts
    (manager.deploy)."""
    path = endpoint_dir / RECORD_FILE
    if not path.exists():
        return None
    record = read_json_or_none(path)
    if record is None or "status" not in record or problem_of(record, EndpointRecord, ""):
        return {
            "name": endpoint_dir.name,
            "status": "Failed",
            "failure_reason": f"record {path} is unreadable; deploy again or delete it",
        }
    return record


def settled_record(endpoint_dir: Path) -> dict[str, Any] | None:
    """The record; if its deployer is gone mid-way (lock free), settled from the facts."""
    record = read_record(endpoint_dir)
    if record is None or record.get("status") not in IN_PROGRESS:
        return record
    with try_lock(endpoint_dir / LOCK_FILE) as acquired:
        if not acquired:
            return record  # a deployment is in progress: its status is the truth
        record = read_record(endpoint_dir)
        return None if record is None else settle(endpoint_dir, record)


def in_progress_message(endpoint_dir: Path, name: str) -> str:
    """Why an Endpoint step cannot deploy now (SageMaker's own wording)."""
    record = read_record(endpoint_dir) or {}
    status = record.get("status") if record.get("status") in IN_PROGRESS else "being deployed"
    return (
        f'Cannot update in-progress endpoint "{name}": it is {status} by another '
        "execution; wait for it to finish (see --list-endpoints), then run again"
    )
