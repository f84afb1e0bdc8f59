"""The listing's summaries of ended executions, kept on disk between processes.

Listing a store reads every execution's record and step records and checks each against
its schema: with 1,000 executions that is 12,000 records and ~1.5 s of a core, paid again
by every new process (``--ui`` before its first page, ``--list-executions``). An ended
execution's summary changes only when its files do, so the runner keeps each one beside
the signature of the files it was read from (:meth:`LocalRunner._files_of`), and this
module keeps that map in one file, ``listing.json`` at the store's root.

The file is derived data, never trusted further than it proves itself: an entry is used
only while its execution's files still have the signature stored with it; an entry that
does not decode to a summary is dropped; a file that is damaged, too large or from another
version is ignored (and replaced by the next listing). Writes are atomic (temp file and
rename), so a reader never sees half a file; two processes writing at once each write a
map that is true for what they read.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.core.errors import StoreWriteError
from pipeline.core.records import EndpointRef, ExecutionSummary
from pipeline.local.store.atomic import write_bytes

VERSION = 1
MAX_BYTES = 64 * 1024 * 1024  # ~60 KB per 100 executions: far above any real store's

Entries = dict[str, tuple[tuple[int, ...], ExecutionSummary]]

_TEXTS = (
    "failure_reason",
    "model_package_arn",
    "quality_report_uri",
    "report",
    "display_name",
)


def load(path: Path) -> Entries:
    """The kept summaries, by execution id; empty when there is no usable file."""
    try:
        raw = _read_regular(path)
        kept = json.loads(raw) if raw is not None and len(raw) <= MAX_BYTES else None
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(kept, dict) or kept.get("version") != VERSION:
        return {}
    entries = kept.get("entries")
    if not isinstance(entries, dict):
        return {}
    found: Entries = {}
    for execution_id, entry in entries.items():
        decoded = _entry(execution_id, entry)
        if decoded is not None:
            found[execution_id] = decoded
    return found


def _read_regular(path: Path) -> bytes | None:
    """The file's first MAX_BYTES + 1 bytes; None for anything but a regular file (a FIFO
    put there would block a plain open for ever, a link could point anywhere)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    with open(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return fh.read(MAX_BYTES + 1)


def save(path: Path, entries: Entries) -> None:
    """Keep ``entries`` (atomically); a store that cannot take the write lists as before."""
    body = {
        "version": VERSION,
        "entries": {
            execution_id: {"files": list(files), "summary": _encoded(summary)}
            for execution_id, (files, summary) in entries.items()
        },
    }
    with contextlib.suppress(StoreWriteError, OSError, ValueError):
        write_bytes(path, json.dumps(body, separators=(",", ":"), allow_nan=False).encode())


def _encoded(summary: ExecutionSummary) -> dict[str, Any]:
    endpoint = summary.endpoint
    return {
        "pipeline_name": summary.pipeline_name,
        "execution_arn": summary.execution_arn,
        "execution_id": summary.execution_id,
        "status": summary.status,
        "parameters": dict(summary.parameters),
        "metrics": dict(summary.metrics),
        "endpoint": None
        if endpoint is None
        else {"name": endpoint.name, "url": endpoint.url, "status": endpoint.status},
        "started_at": None if summary.started_at is None else summary.started_at.isoformat(),
        "ended_at": None if summary.ended_at is None else summary.ended_at.isoformat(),
        "running_s": summary.running_s,
        **{name: getattr(summary, name) for name in _TEXTS},
    }


def _entry(execution_id: str, entry: Any) -> tuple[tuple[int, ...], ExecutionSummary] | None:
    """One kept entry, or None when any part of it is not what :func:`save` writes."""
    if not isinstance(entry, dict):
        return None
    files, summary = entry.get("files"), entry.get("summary")
    if not isinstance(files, list) or not all(type(n) is int for n in files):
        return None
    try:
        decoded = _decoded(summary)
    except (TypeError, ValueError, KeyError):
        return None
    if decoded.execution_id != execution_id:
        return None
    return tuple(files), decoded


def _decoded(data: Any) -> ExecutionSummary:
    """The summary :func:`_encoded` wrote; TypeError/ValueError/KeyError for anything else."""
    if not isinstance(data, dict):
        raise TypeError("not an object")
    return ExecutionSummary(
        pipeline_name=_text(data["pipeline_name"]),
        execution_arn=_text(data["execution_arn"]),
        execution_id=_text(data["execution_id"]),
        status=_text(data["status"]),
        failure_reason=_optional_text(data.get("failure_reason")),
        model_package_arn=_optional_text(data.get("model_package_arn")),
        quality_report_uri=_optional_text(data.get("quality_report_uri")),
        report=_optional_text(data.get("report")),
        display_name=_optional_text(data.get("display_name")),
        parameters=_mapping(data["parameters"]),
        metrics={k: _number(v) for k, v in _mapping(data["metrics"]).items()},
        endpoint=_endpoint(data.get("endpoint")),
        started_at=_time(data.get("started_at")),
        ended_at=_time(data.get("ended_at")),
        running_s=None if data.get("running_s") is None else _number(data["running_s"]),
    )


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("not a number")
    return value


def _mapping(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise TypeError("not an object")
    return value


def _endpoint(value: Any) -> EndpointRef | None:
    if value is None:
        return None
    data = _mapping(value)
    return EndpointRef(
        name=_text(data["name"]),
        url=_optional_text(data.get("url")),
        status=_optional_text(data.get("status")),
    )


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(_text(value))
    if moment.tzinfo is None:
        raise ValueError("a time without its zone")
    return moment
