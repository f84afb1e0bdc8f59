"""What the UI does, through the Target protocol alone: read executions, start, stop, retry,
rerun from a step, sweep, approve, deploy, invoke.

Nothing here waits for an execution: a start records the execution (the same checks as
``--start``) and hands it to the target's :meth:`~Target.point_runs` with ``fresh=True``
(locally a worker in a new interpreter, as the server has threads and must not fork; on
SageMaker the service runs it). A sweep runs in a thread of its own through the sweep room.
The executions list is the slow read (every execution's records); :class:`ExecutionsCache`
answers from the newest listing while a thread keeps taking new ones, and describes the
executions still running on every read, so a page is answered at once and never stale for
longer than one listing.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.core.errors import ConfigError, MoonpipeError
from pipeline.core.parameters import param_overrides, resolve_parameters
from pipeline.core.records import ExecutionSummary, Selection
from pipeline.core.refs import execution_id
from pipeline.core.status import is_active
from pipeline.targets.base import PointRun, Target

IDLE_AFTER_S = 30.0  # the listing thread rests once no page has asked for this long
RELIST_EVERY_S = 0.5


class ExecutionsCache:
    """The pipeline's executions, newest first, answered from the newest listing."""

    def __init__(self, target: Target, pipeline_name: str) -> None:
        self.target, self.pipeline_name = target, pipeline_name
        self._listing: list[ExecutionSummary] | None = None
        self._asked = time.monotonic()
        self._wake = threading.Event()
        self._recent: set[str] = set()  # started here, perhaps not in the listing yet
        self._listed = threading.Event()  # the thread's first listing is there
        self._thread = threading.Thread(target=self._keep_listing, daemon=True, name="ui-list")
        self._thread.start()

    def executions(self) -> list[ExecutionSummary]:
        """The listing, with each execution still running described afresh."""
        self._asked = time.monotonic()
        self._wake.set()
        if self._listing is None:  # the first page waits for the thread's first listing
            self._listed.wait()  # (listing beside it, both cold, took twice as long)
        listing = self._listing if self._listing is not None else self._list()
        known = {s.execution_id for s in listing}
        fresh: dict[str, ExecutionSummary] = {}
        for ref in [s.execution_id for s in listing if is_active(s.status)] + sorted(
            self._recent - known
        ):
            with contextlib.suppress(MoonpipeError):
                fresh[ref] = self.target.describe_execution(ref)
        rows = [fresh.pop(s.execution_id, s) for s in listing]
        return sorted([*fresh.values(), *rows], key=_newest_first)

    def started(self, ref: str) -> None:
        """An execution started here: shown at once, before the next listing has it."""
        self._recent.add(execution_id(ref))
        self._wake.set()

    def _list(self) -> list[ExecutionSummary]:
        listing = self.target.list_executions(self.pipeline_name)
        self._listing = listing
        self._recent -= {s.execution_id for s in listing}
        return listing

    def _keep_listing(self) -> None:
        while True:
            if time.monotonic() - self._asked > IDLE_AFTER_S:
                self._wake.clear()
                self._wake.wait()
            try:
                self._list()
            except Exception:  # a broken listing must not end the thread
                pass
            finally:
                self._listed.set()  # a failed first listing: the page lists (and says why)
            time.sleep(RELIST_EVERY_S)


def _newest_first(summary: ExecutionSummary) -> float:
    return -(summary.started_at.timestamp() if summary.started_at else float("inf"))


@dataclass
class Studio:
    """The UI's one object: the target, the pipeline, and what it has started."""

    target: Target
    pipeline_name: str
    runs: list[PointRun] = field(default_factory=list)
    sweeps: list[threading.Thread] = field(default_factory=list)
    cache: ExecutionsCache | None = None

    def __post_init__(self) -> None:
        if self.cache is None:
            self.cache = ExecutionsCache(self.target, self.pipeline_name)

    # -- reading ---------------------------------------------------------------------------

    def executions(self) -> list[ExecutionSummary]:
        """Newest first (see :class:`ExecutionsCache`)."""
        assert self.cache is not None
        self._reap()
        return self.cache.executions()

    def declared(self) -> list[dict[str, Any]]:
        """The stored definition's typed parameters."""
        return self.target.pipeline_parameters(self.pipeline_name)

    # -- actions ---------------------------------------------------------------------------

    def start(
        self,
        form: Mapping[str, str],
        from_step: str | None = None,
        source: str | None = None,
    ) -> str:
        """Start an execution with the form's values (only those that differ from the
        defaults are overrides), checked as --start checks them; its ARN."""
        declared = self.declared()
        overrides = overrides_of(declared, form)
        values = resolve_parameters(declared, overrides)  # a bad value: one line, in place
        selection = self._selection(from_step, source)
        arn = self.target.start_execution(
            self.pipeline_name, {k: values[k] for k in overrides}, selection=selection
        )
        self._launch(arn)
        return arn

    def stop(self, ref: str) -> ExecutionSummary:
        """StopPipelineExecution: it ends Stopped."""
        return self.target.stop_execution(ref)

    def retry(self, ref: str) -> str:
        """RetryPipelineExecution: the same execution resumes off the server's path."""
        arn = self.target.retry_execution(ref)
        self._launch(arn)
        return arn

    def sweep(self, axes: Sequence[str], params: Sequence[str]) -> list[str]:
        """Check every point as --sweep does, then run them in a thread; the labels."""
        from pipeline.sweep.plan import check_points, points_of, reuse_done_points
        from pipeline.sweep.run import run_sweep

        points = points_of(axes, param_overrides(params))
        declared = self.declared()
        check_points(declared, points)
        reuse_done_points(self.target, self.pipeline_name, declared, points)
        assert self.cache is not None
        cache = self.cache

        def on_change(point: Any) -> None:
            if point.execution_arn:
                cache.started(point.execution_arn)

        def run() -> None:
            with contextlib.suppress(MoonpipeError):
                run_sweep(
                    self.target,
                    self.pipeline_name,
                    points,
                    self.target.default_parallel,
                    on_change,
                    runs=self.target.point_runs(fresh=True),
                )

        thread = threading.Thread(target=run, daemon=True, name="ui-sweep")
        thread.start()
        self.sweeps.append(thread)
        return [p.label() for p in points]

    def _selection(self, from_step: str | None, source: str | None) -> Selection | None:
        if not from_step:
            return None
        from pipeline.local.selection import check_selection, downstream

        graph = self.target.pipeline_graph(self.pipeline_name)
        check_selection(graph, self.pipeline_name, [from_step])
        steps = downstream(graph, from_step)
        return Selection(tuple(s.name for s in graph.steps if s.name in steps), source)

    def _launch(self, arn: str) -> None:
        self.runs.append(self.target.point_runs(fresh=True).launch(arn))
        assert self.cache is not None
        self.cache.started(arn)

    def _reap(self) -> None:
        """Forget the workers that have ended (reaping them)."""
        self.runs = [run for run in self.runs if run.exited() is False]


def overrides_of(declared: Sequence[Mapping[str, Any]], form: Mapping[str, str]) -> dict[str, str]:
    """The form's values that differ from the parameters' defaults (an unknown name is
    refused, as --param refuses it)."""
    names = {p["Name"]: p for p in declared}
    unknown = sorted(set(form) - set(names))
    if unknown:
        raise ConfigError(f"unknown parameter {unknown[0]}; the pipeline declares {sorted(names)}")
    return {
        name: text.strip()
        for name, text in form.items()
        if text.strip() != _shown(names[name].get("DefaultValue"))
    }


def _shown(value: Any) -> str:
    """A default as the form shows it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
