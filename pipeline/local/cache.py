"""Step caching (CacheConfig) as SageMaker documents it: the key is only the documented
attributes of the step's type, compared by value, within ExpireAfter, per pipeline.

Sources: the Pipelines guide's "Default cache key attributes by pipeline step type" (the
table :data:`KEY_ATTRIBUTES` copies) — "A pipeline step does not rerun if you change any
attributes that are not listed ... for its step type"; "Caching pipeline steps": "Step
caching only considers successful runs ... SageMaker Pipelines uses the result for the most
recent successful run", "Step caching is only scoped for individual pipelines"; AWS's
caching example notebook: after changing the processor's and estimator's instance_type
"The new execution will result in cache hits for both steps".

The attributes are compared after every expression in them is resolved (Parameters, Steps
properties, Execution variables): aws/sagemaker-python-sdk#3392 shows a Transform's
``ModelName`` — the same ``Get`` in every run — missing the cache because the model step
before it makes a new model each run, which only a comparison of resolved values explains.
So an upstream cache hit (its old properties propagated) lets a downstream step hit too,
and an upstream rerun (new output URIs) makes it rerun.

Each entry keeps a digest of each key attribute, so a miss can say which attribute changed
since the newest earlier successful run of the step (``--describe-execution`` and the report
show it), and a hit which run it reused.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.core.errors import StoreCorruptError
from pipeline.local.graph import StepSpec
from pipeline.local.policies import CachePolicy
from pipeline.local.store.atomic import write_json
from pipeline.local.store.schema import CacheEntryRecord, read_record

# "Default cache key attributes by pipeline step type" (docs.aws.amazon.com/sagemaker/latest/
# dg/pipelines-default-keys.html). A dotted entry is a child attribute: for Tuning and AutoML
# only the listed children of TrainingJobDefinition / AutoMLJobConfig count.
KEY_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "Processing": ("AppSpecification", "Environment", "ProcessingInputs"),
    "Training": (
        "AlgorithmSpecification",
        "CheckpointConfig",
        "DebugHookConfig",
        "DebugRuleConfigurations",
        "Environment",
        "HyperParameters",
        "InputDataConfig",
    ),
    "Tuning": (
        "HyperParameterTuningJobConfig",
        "TrainingJobDefinition.AlgorithmSpecification",
        "TrainingJobDefinition.HyperParameterRanges",
        "TrainingJobDefinition.InputDataConfig",
        "TrainingJobDefinition.StaticHyperParameters",
        "TrainingJobDefinition.TuningObjective",
        "TrainingJobDefinitions",
    ),
    "AutoML": (
        "AutoMLJobConfig.CompletionCriteria",
        "AutoMLJobConfig.CandidateGenerationConfig",
        "AutoMLJobConfig.DataSplitConfig",
        "AutoMLJobConfig.Mode",
        "AutoMLJobObjective",
        "InputDataConfig",
        "ProblemType",
    ),
    "Transform": ("DataProcessing", "Environment", "ModelName", "TransformInput"),
    "ClarifyCheck": (
        "ClarifyCheckConfig",
        "CheckJobConfig",
        "SkipCheck",
        "RegisterNewBaseline",
        "ModelPackageGroupName",
        "SuppliedBaselineConstraints",
    ),
    "QualityCheck": (
        "QualityCheckConfig",
        "CheckJobConfig",
        "SkipCheck",
        "RegisterNewBaseline",
        "ModelPackageGroupName",
        "SuppliedBaselineConstraints",
        "SuppliedBaselineStatistics",
    ),
    "EMR": ("ClusterId", "StepConfig"),
}
_ABSENT = "-"
_NEWEST_READ = 4  # cache entries read to explain a miss (the most recently written)


@dataclass(frozen=True)
class CacheKey:
    """A step's key: the digest of each key attribute's resolved value, and of them all."""

    step: str
    attributes: Mapping[str, str]

    @property
    def digest(self) -> str:
        """The key as one name (the entry's file name)."""
        text = json.dumps({"step": self.step, "attributes": dict(self.attributes)}, sort_keys=True)
        return f"{_step_digest(self.step)}-{hashlib.sha256(text.encode()).hexdigest()}"


@dataclass(frozen=True)
class CacheEntry:
    """A successful run of a step: which execution, when it ended, what it produced."""

    execution_id: str
    ended_at: datetime
    properties: Mapping[str, Any]
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Lookup:
    """What a lookup found: the entry to reuse (None: run the step) and why, in words."""

    entry: CacheEntry | None
    reason: str


def is_enabled(spec: StepSpec) -> bool:
    """True when the step asks for caching and its type is one SageMaker caches."""
    return spec.cache.enabled and spec.step_type in KEY_ATTRIBUTES


def cache_key(spec: StepSpec, arguments: Mapping[str, Any]) -> CacheKey:
    """The key of a step whose ``arguments`` are resolved."""
    return CacheKey(
        spec.name,
        {name: _digest(_attribute(arguments, name)) for name in KEY_ATTRIBUTES[spec.step_type]},
    )


def entry_name(key: CacheKey) -> str:
    """The name the store files this key's entry under (``cache/<pipeline>/<name>.json``)."""
    return key.digest


def lookup(path: Path, key: CacheKey, policy: CachePolicy, moment: datetime) -> Lookup:
    """The entry at ``path`` if it has not expired at ``moment``, with the reason either way.

    On a miss the reason compares ``key`` with the newest earlier successful run of the same
    step (the other entries beside ``path``): the attributes that changed, or that it expired.
    """
    entry = _read(path)
    if entry is not None and not _expired(entry, policy.expire_after, moment):
        return Lookup(entry, f"key attributes as in execution {entry.execution_id}")
    if entry is not None:
        return Lookup(
            None,
            f"the run with this key (execution {entry.execution_id}) ended more than "
            f"ExpireAfter {policy.expire_after_text} ago",
        )
    newest = _newest_other(path, key)
    if newest is None:
        return Lookup(None, "no earlier successful run of this step")
    changed = [n for n, d in key.attributes.items() if newest.attributes.get(n) != d]
    if not changed:
        return Lookup(
            None, f"no earlier successful run with this key (newest: {newest.execution_id})"
        )
    return Lookup(None, f"{', '.join(changed)} changed since execution {newest.execution_id}")


def remember(path: Path, entry: CacheEntry) -> None:
    """Record a successful run; a later one with the same key replaces it (newest wins)."""
    write_json(
        path,
        {
            "execution_id": entry.execution_id,
            "ended_at": entry.ended_at.isoformat(),
            "properties": entry.properties,
            "attributes": dict(entry.attributes),
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


def _attribute(arguments: Mapping[str, Any], dotted: str) -> Any:
    value: Any = arguments
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _digest(value: Any) -> str:
    if value is None:
        return _ABSENT
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _step_digest(step: str) -> str:
    return hashlib.sha256(step.encode()).hexdigest()[:16]


def _read(path: Path) -> CacheEntry | None:
    if not path.is_file():
        return None
    try:
        data = read_record(path, CacheEntryRecord)
    except StoreCorruptError:
        return None  # a damaged entry is a miss: the step runs and its result replaces it
    return CacheEntry(
        data["execution_id"],
        datetime.fromisoformat(data["ended_at"]),
        data["properties"],
        data.get("attributes") or {},
    )


def _expired(entry: CacheEntry, expire_after: timedelta | None, moment: datetime) -> bool:
    return expire_after is not None and moment - entry.ended_at > expire_after


def _newest_other(path: Path, key: CacheKey) -> CacheEntry | None:
    """The newest entry of the same step with another key.

    A step has an entry per set of arguments it ever ran with (every sweep point, every
    rerun), so only the :data:`_NEWEST_READ` most recently written files are read (by
    modification time, then ``ended_at`` among them): reading all of them took ~11 ms of a
    rerun's training step in a store with fifty runs, and grew with every run.
    """
    prefix = f"{_step_digest(key.step)}-"
    written = []
    for other in path.parent.glob(f"{prefix}*.json"):
        if other != path:
            with contextlib.suppress(OSError):
                written.append((other.stat().st_mtime_ns, other))
    found = []
    for _, other in sorted(written, key=lambda pair: pair[0], reverse=True)[:_NEWEST_READ]:
        with contextlib.suppress(OSError, ValueError, KeyError):
            entry = _read(other)
            if entry is not None:
                found.append(entry)
    return max(found, key=lambda e: e.ended_at, default=None)
