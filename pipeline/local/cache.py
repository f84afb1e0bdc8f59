"""Step caching (CacheConfig), as SageMaker does it: same step, same arguments, not expired.

The key covers the step's name and type and its Arguments with Parameters and Steps
references resolved but Execution.* references left symbolic: the SDK's default output
paths contain Execution.PipelineExecutionId, which would otherwise make every key unique.
A hit reuses the earlier run's recorded properties (its outputs stay where they were, since
stored objects are never overwritten).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.core.errors import StoreCorruptError
from pipeline.core.names import parse_duration
from pipeline.local.expressions import Scope, resolve
from pipeline.local.graph import StepSpec
from pipeline.local.store.atomic import write_json
from pipeline.local.store.schema import CacheEntryRecord, read_record


@dataclass(frozen=True)
class CacheEntry:
    """An earlier successful run of a step with the same key."""

    execution_id: str
    ended_at: datetime
    properties: Mapping[str, Any]


def cache_key(spec: StepSpec, scope: Scope) -> str:
    """A digest of what makes two runs of a step interchangeable."""
    symbolic = resolve(dict(spec.arguments), replace(scope, symbolic_execution=True))
    payload = {"name": spec.name, "type": spec.step_type, "arguments": symbolic}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def is_enabled(spec: StepSpec) -> bool:
    """True when the step asks for caching."""
    return bool(spec.cache_config.get("Enabled"))


def lookup(path: Path, expire_after: str | None, moment: datetime) -> CacheEntry | None:
    """The stored entry at ``path`` if there is one and it has not expired at ``moment``."""
    if not path.is_file():
        return None
    try:
        data = read_record(path, CacheEntryRecord)
    except StoreCorruptError:
        return None  # a damaged entry is a miss: the step runs and its result replaces it
    entry = CacheEntry(
        data["execution_id"], datetime.fromisoformat(data["ended_at"]), data["properties"]
    )
    if expire_after and moment - entry.ended_at > parse_duration(expire_after):
        return None
    return entry


def remember(path: Path, entry: CacheEntry) -> None:
    """Record a successful run; a later one with the same key replaces it (newest wins)."""
    write_json(
        path,
        {
            "execution_id": entry.execution_id,
            "ended_at": entry.ended_at.isoformat(),
            "properties": entry.properties,
        },
    )


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold the entry's lock (blocking) while it is looked up and, on a miss, computed.

    Parallel executions (a sweep's points) that need the same step would otherwise all
    miss and all run it; with the lock the first runs it and the others get a cache hit.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
