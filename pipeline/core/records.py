"""The records a target returns and the listeners it calls: plain frozen dataclasses.

The bottom layer's data: the engine writes them, both targets return them, the report, the
sweep and the console read them, so ``--json`` has one shape whatever the target.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class PipelineDefinition:
    """A built pipeline: what --upsert sends.

    ``artifacts`` maps every s3:// URI the definition references and the SDK would have
    uploaded while building it (code files, source tarballs) to its bytes; a target stores
    them before it stores the definition, so no definition ever points at a missing object.
    ``max_parallel_steps`` is the pipeline's ParallelismConfiguration (CreatePipeline's
    MaxParallelExecutionSteps; None: none given, every ready step runs at once).
    """

    name: str
    description: str
    definition: str
    artifacts: Mapping[str, bytes] = field(default_factory=dict)
    max_parallel_steps: int | None = None


@dataclass(frozen=True)
class UpsertResult:
    """What --upsert did: ``changed`` is False when the target already held this exact
    pipeline (definition, description, role), in which case nothing was written."""

    pipeline_arn: str
    changed: bool
    version: int | None = None  # the stored version number where the target numbers them


@dataclass(frozen=True)
class StepRecord:
    """One step of one execution, as ListPipelineExecutionSteps describes it."""

    name: str
    step_type: str
    status: str  # Starting | Executing | Succeeded | Failed | Stopped
    started_at: datetime | None = None
    ended_at: datetime | None = None
    cache_hit: bool = False
    failure_reason: str | None = None
    log_path: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    attempt_count: int | None = None  # AttemptCount: the current attempt (RetryPolicies), 1-based

    @property
    def duration_s(self) -> float | None:
        """Wall time of the step, or None while it runs or when unknown."""
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class EndpointRef:
    """An endpoint a run deployed. ``url`` is the local server's; None on SageMaker."""

    name: str
    url: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class ExecutionSummary:
    """An execution as a person (and --json) sees it."""

    pipeline_name: str
    execution_arn: str
    execution_id: str
    status: str  # Executing | Succeeded | Failed | Stopped | Stopping
    failure_reason: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    steps: tuple[StepRecord, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)
    model_package_arn: str | None = None
    endpoint: EndpointRef | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    quality_report_uri: str | None = None  # where the model-quality report (evaluation) is
    report: str | None = None  # the execution's HTML report, where one was written
    display_name: str | None = None  # PipelineExecutionDisplayName (a sweep names its points)
    # time it spent running: a retried execution's idle time between attempts left out
    # (None: ended_at - started_at, or unknown while it runs)
    running_s: float | None = None

    @property
    def duration_s(self) -> float | None:
        """Seconds it ran (its attempts' running time after a retry); None while it runs."""
        if self.running_s is not None:
            return self.running_s
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()

    def to_json_dict(self) -> dict[str, Any]:
        """The --json object: stable keys, plain JSON types."""
        return {
            "pipeline_name": self.pipeline_name,
            "execution_arn": self.execution_arn,
            "execution_id": self.execution_id,
            "status": self.status,
            "failure_reason": self.failure_reason,
            "parameters": dict(self.parameters),
            "steps": [
                {
                    "name": s.name,
                    "type": s.step_type,
                    "status": s.status,
                    "cache_hit": s.cache_hit,
                    "reused_from": s.metadata.get("ReusedBySelectionFrom"),
                    "source_execution_id": s.metadata.get("SourceExecutionId")
                    or s.metadata.get("ReusedBySelectionFrom"),
                    "source_parameters": s.metadata.get("SourceParameters"),
                    "duration_s": None if s.duration_s is None else round(s.duration_s, 3),
                    "failure_reason": s.failure_reason,
                    "log_path": s.log_path,
                    "attempt_count": s.attempt_count,
                    "attempts": list(s.metadata.get("Attempts") or []),
                    "cache": s.metadata.get("CacheReason"),
                }
                for s in self.steps
            ],
            "metrics": dict(self.metrics),
            "model_package_arn": self.model_package_arn,
            "endpoint": None
            if self.endpoint is None
            else {"name": self.endpoint.name, "url": self.endpoint.url},
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
            "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
            "quality_report_uri": self.quality_report_uri,
            "report": self.report,
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@dataclass(frozen=True)
class Selection:
    """SageMaker's SelectiveExecutionConfig: only ``steps`` run; the steps they depend on are
    reused from ``source`` (an execution id or ARN; None: the newest Succeeded or Failed)."""

    steps: tuple[str, ...]
    source: str | None = None


@dataclass(frozen=True)
class ExecutionFacts:
    """Everything a report (or the UI) shows of one execution, gathered by its target."""

    target: str
    pipeline_name: str
    execution_id: str
    execution_arn: str
    status: str
    definition: str
    parameters: Mapping[str, Any]
    steps: Sequence[tuple[StepRecord, Mapping[str, Any] | None]]
    failure_reason: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    quality_report: Mapping[str, Any] | None = None
    quality_report_uri: str | None = None
    log_tails: Mapping[str, Sequence[str]] = field(default_factory=dict)
    notes: Sequence[str] = ()


@dataclass(frozen=True)
class ExecutionData:
    """What the plots need beyond the facts: the data step's points and the trained model.

    ``train``/``test`` are arrays of rows ``label, x, y`` (None when the target cannot read
    them); ``model_file`` is the model.tar.gz where the target has it on this machine;
    ``keep_dir`` is where a report may keep what it computed from them (the decision
    boundary's grid), None where nothing is kept; ``note`` says what is missing and why.
    """

    train: Any = None
    test: Any = None
    model_artifact: str | None = None  # the artifact's URI
    model_file: Path | None = None
    keep_dir: Path | None = None
    note: str = ""


@dataclass(frozen=True)
class ModelPackageRef:
    """One model package version, as ListModelPackages/DescribeModelPackage describe it."""

    arn: str
    group: str
    version: int | None
    approval_status: str
    created_at: datetime | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    model_data_url: str | None = None
    execution_id: str | None = None  # the pipeline execution that registered it
    endpoints: tuple[str, ...] = ()  # the endpoints serving it now


StepListener = Callable[[StepRecord], None]
"""Called with a step's record each time its status changes (start, end)."""

LineListener = Callable[[str, str], None]
"""Called with (step name, line) for each line a running job prints (--follow)."""


@dataclass(frozen=True)
class StepLog:
    """What a step's job printed so far (merged stdout and stderr), as far as the target has
    it: locally the step's log file; on SageMaker, where the log is in CloudWatch, ``text`` is
    empty and ``note`` says where to look."""

    step_name: str
    text: str
    path: str | None = None  # the log file, where there is one on this machine
    complete: bool = False  # True once the step has ended (nothing more will be written)
    note: str = ""


class ReportFollower(Protocol):
    """Keeps one execution's page current while it runs."""

    def refresh(self, final: bool = True) -> None:
        """A step ended (``final``: the execution ended): bring the page up to date."""
        ...


class ReportKeeper(Protocol):
    """How local executions get their HTML pages, handed to the local target by the front
    (pipeline.report.background has the keepers), so the engine never imports the report."""

    def follow(self, store_root: Path, execution_id: str, notes: list[str]) -> ReportFollower:
        """Start keeping this execution's page; a note for people may be appended."""
        ...

    def draw_later(
        self,
        store_root: Path,
        execution_ids: Sequence[str],
        comparison: Path | None,
        pages: Sequence[str],
        notes: list[str],
    ) -> None:
        """Draw ``pages`` and then the comparison of ``execution_ids`` off the caller's path."""
        ...
