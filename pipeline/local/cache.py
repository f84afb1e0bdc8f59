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
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.local.definition import StepSpec
from pipeline.local.expressions import Scope, resolve
from pipeline.local.store.atomic import read_json, write_json

_DURATION = re.compile(
    r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
_DAYS_PER = {"years": 365, "months": 30, "weeks": 7, "days": 1}
_SECONDS_PER = {"hours": 3600, "minutes": 60, "seconds": 1}


@dataclass(frozen=True)
class CacheEntry:
    """An earlier successful run of a step with the same key."""

    execution_id: str
    ended_at: datetime
    properties: Mapping[str, Any]


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration (P30D, PT1H, P1Y2M…); months count 30 days, years 365."""
    match = _DURATION.match(text or "")
    if match is None or text in {"P", "PT"} or text.endswith("T"):
        raise ValueError(f"ExpireAfter {text!r} is not an ISO 8601 duration like P30D or PT1H")
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    days = sum(n * _DAYS_PER[k] for k, n in parts.items() if k in _DAYS_PER)
    seconds = sum(n * _SECONDS_PER[k] for k, n in parts.items() if k in _SECONDS_PER)
    return timedelta(days=days, seconds=seconds)


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
    data = read_json(path)
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
