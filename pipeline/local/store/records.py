"""Pipelines, executions and step records on disk, so they survive the process that wrote them.

Where each lives is pipeline.local.store.layout's (``pipelines/<name>/versions/<n>.json``,
``executions/<id>/execution.json``, ``executions/<id>/steps/<step>.json``, ``cache/...``);
this module reads and writes them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.core.errors import ExecutionNotFoundError, PipelineNotFoundError
from pipeline.core.records import StepRecord
from pipeline.core.status import Status
from pipeline.local.store.atomic import create_json, damaged, write_json
from pipeline.local.store.layout import EXECUTION_RECORD, StoreLayout
from pipeline.local.store.schema import PipelineVersionRecord, read_record

_STATUSES = frozenset(s.value for s in Status)


@dataclass
class ExecutionRecord:
    """``executions/<id>/execution.json``: one execution's own record, as typed fields.

    The JSON keys are the field names, in this order, exactly as before this class existed
    (``starter`` and ``runner`` only once a process holds the execution's runner lock; see
    pipeline.local.interruptions); keys this version does not know are kept in ``extra``
    and written back, so a newer record survives an older reader.
    """

    pipeline_name: str
    pipeline_version: int | None
    execution_id: str
    execution_arn: str
    status: str  # Executing | Succeeded | Failed | Stopped
    parameters: dict[str, Any]
    started_at: str  # ISO 8601, UTC
    ended_at: str | None = None
    failure_reason: str | None = None
    ran: bool = False  # a runner has started it (False: recorded by --start, not yet run)
    runner: dict[str, Any] | None = None  # the pid and start time of the process running it
    starter: dict[str, Any] | None = None  # the process holding it until a runner runs it
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExecutionRecord:
        """Read a stored record (any version: missing optional keys take their defaults)."""
        known = {f.name for f in fields(cls)} - {"extra"}
        typed = {k: v for k, v in data.items() if k in known}
        return cls(**typed, extra={k: v for k, v in data.items() if k not in known})

    def to_json(self) -> dict[str, Any]:
        """The stored JSON object (see the class docstring for why its shape never changes)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        for key in ("runner", "starter"):
            if data[key] is None:
                del data[key]
        return {**data, **self.extra}


class Records:
    """Reads and writes the JSON records of one store root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.layout = StoreLayout(root)

    # pipelines -------------------------------------------------------------------------
    def add_pipeline_version(self, name: str, record: dict[str, Any]) -> tuple[int, bool]:
        """Store a definition as the next version unless it equals the latest.

        Versions are created, never replaced: a parallel upsert that took the number first
        makes this one look again, and either find its definition already stored or take
        the next number. Nothing an upsert stored is lost.

        Returns:
            (version number, True if stored now / False if the latest already was this).
        """
        while True:
            latest = self.latest_pipeline_version(name)
            if latest is not None and _same_pipeline(latest[1], record):
                return latest[0], False
            number = 1 if latest is None else latest[0] + 1
            path = self.layout.pipeline_versions(name) / f"{number}.json"
            try:
                create_json(path, {**record, "Version": number})
            except FileExistsError:
                continue
            return number, True

    def latest_pipeline_version(self, name: str) -> tuple[int, dict[str, Any]] | None:
        """(number, record) of the newest version, or None for an unknown pipeline.

        Only ``<n>.json`` files are versions: anything else in the folder (a note someone
        left there) is not one, and is left alone.
        """
        folder = self.layout.pipeline_versions(name)
        found = folder.glob("*.json") if folder.is_dir() else []
        numbers = sorted(int(p.stem) for p in found if p.stem.isdigit() and p.stem.isascii())
        if not numbers:
            return None
        return numbers[-1], self._version(folder / f"{numbers[-1]}.json")

    def _version(self, path: Path) -> dict[str, Any]:
        return read_record(path, PipelineVersionRecord)

    def pipeline(self, name: str, version: int | None = None) -> dict[str, Any]:
        """One version's record (the newest by default); PipelineNotFoundError if none."""
        if version is not None:
            path = self.layout.pipeline_versions(name) / f"{version}.json"
            if path.is_file():
                return self._version(path)
        else:
            latest = self.latest_pipeline_version(name)
            if latest is not None:
                return latest[1]
        raise PipelineNotFoundError(
            f"no local pipeline named {name!r}; run with --upsert first to create it"
        )

    # executions ------------------------------------------------------------------------
    def save_execution(self, record: ExecutionRecord) -> None:
        """Write (or rewrite, as its status moves) an execution's own record."""
        path = self.layout.execution_record(record.execution_id)
        write_json(path, record.to_json())

    def execution(self, execution_id: str) -> ExecutionRecord:
        """An execution's record; ExecutionNotFoundError if there is none."""
        try:
            path = self.layout.execution_record(execution_id)
        except ValueError:
            path = None
        if path is None or not path.is_file():
            raise ExecutionNotFoundError(
                f"no local execution {execution_id!r}; list them with --list-executions"
            )
        data = read_record(path, ExecutionRecord)
        if data["status"] not in _STATUSES:
            raise damaged(path, f"field status: {str(data['status'])[:40]!r} is no status")
        return ExecutionRecord.from_json(data)

    def execution_ids(self) -> list[str]:
        """Every stored execution id (unordered)."""
        folder = self.layout.executions()
        found = folder.glob(f"*/{EXECUTION_RECORD}") if folder.is_dir() else []
        return [p.parent.name for p in found]

    def save_step(self, execution_id: str, record: StepRecord, properties: Any) -> None:
        """Write a step's latest record together with the properties it produced."""
        data = asdict(record)
        data["properties"] = properties
        write_json(self.layout.step_record(execution_id, record.name), data)

    def steps(self, execution_id: str) -> list[tuple[StepRecord, Any]]:
        """The execution's step records with their properties, in start order."""
        folder = self.layout.steps(execution_id)
        found = sorted(folder.glob("*.json")) if folder.is_dir() else []
        pairs = [_step_pair(p) for p in found]
        return sorted(pairs, key=lambda pair: (pair[0].started_at or _NEVER, pair[0].name))


def _same_pipeline(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """What UpdatePipeline would change: the definition, the description, the role, the
    ParallelismConfiguration."""
    keys = ("PipelineDefinition", "PipelineDescription", "RoleArn", "ParallelismConfiguration")
    return all(old.get(k) == new.get(k) for k in keys)


_NEVER = datetime.max.replace(tzinfo=timezone.utc)  # unstarted steps sort last


def _step_pair(path: Path) -> tuple[StepRecord, Any]:
    """A stored step record and its properties (an object, a Describe* response, or null)."""
    data = read_record(path, StepRecord)
    properties = data.get("properties")
    if properties is not None and not isinstance(properties, dict):
        raise damaged(path, "field properties: expected an object or null")
    if data["status"] not in _STATUSES:
        raise damaged(path, f"field status: {str(data['status'])[:40]!r} is no status")
    return _step_record(data), properties


def _step_record(data: dict[str, Any]) -> StepRecord:
    fields = {k: v for k, v in data.items() if k in StepRecord.__dataclass_fields__}
    for key in ("started_at", "ended_at"):
        if fields.get(key):
            fields[key] = datetime.fromisoformat(fields[key])
    return StepRecord(**fields)
