"""A local run's whole lifecycle: start, run, stop, settle, retry (kfp's pipeline_orchestrator).

``start`` checks a request as StartPipelineExecution does and records the execution
(``Executing``, not run yet) while holding it (pipeline.local.interruptions: the runner lock
is taken before the record exists, and the record names this process); ``run`` names this
process the runner, starts the job host, runs the graph (pipeline.local.execution) and
records how it ended, interrupted or not, before it lets go. Whoever reads an execution
settles it first, so a process that died never leaves it ``Executing``. ``stop`` and
``retry`` are the service's StopPipelineExecution and RetryPipelineExecution. The process
that runs a sweep point (pipeline.local.points) is handed its point's hold.

The order of the writes in :meth:`LocalRunner._run` matters to every other reader of the
store; see its docstring before moving a line.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import string
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pipeline.core.names import utc_now
from pipeline.core.parameters import resolve_parameters
from pipeline.core.records import (
    ExecutionSummary,
    LineListener,
    PipelineDefinition,
    ReportFollower,
    ReportKeeper,
    Selection,
    StepListener,
    StepRecord,
)
from pipeline.core.refs import execution_id as id_of
from pipeline.core.status import Status, is_active
from pipeline.local import listing
from pipeline.local.api_gate import cache_service_model_in, check_start
from pipeline.local.execution import ExecutionIdentity, run_execution
from pipeline.local.graph import PipelineGraph
from pipeline.local.handlers.base import EndpointManager
from pipeline.local.handlers.jobs import wait_for_a_job
from pipeline.local.interruptions import (
    Claim,
    begin_run,
    close_execution,
    deferred_interrupts,
    finish,
    free_reserve,
    hold,
    keep_reserve,
    outcome_of_error,
    settle,
    stop_requested,
)
from pipeline.local.interruptions import stop as stop_running
from pipeline.local.liveness import owner_of_this_process
from pipeline.local.orchestrator import RunResult
from pipeline.local.pipelines import StoredPipelines
from pipeline.local.selection import (
    check_retryable,
    plan_selection,
    prepare_retry,
    preset_for,
    record_reused,
)
from pipeline.local.store.layout import StoreLayout
from pipeline.local.store.objects import ObjectStore
from pipeline.local.store.records import ExecutionRecord, Records
from pipeline.local.summary import summarize
from pipeline.local.warm.launch import job_runtime
from pipeline.local.warm.launch import prepare as prepare_warm_host

_ID_ALPHABET = string.ascii_lowercase + string.digits


class _NoPage:
    """The follower when no report keeper was given: nothing is drawn."""

    def refresh(self, final: bool = True) -> None:
        """Nothing to bring up to date."""


def open_store(store_root: Path, region: str) -> StoredPipelines:
    """The pipelines (records, objects) of the store at ``store_root``, ready to run.

    The root is made absolute (jobs run in other working directories), and the API gate
    keeps its part of SageMaker's service model in the store.
    """
    root = Path(store_root).resolve()
    cache_service_model_in(StoreLayout(root).gate())
    return StoredPipelines(Records(root), ObjectStore(root), region)


class LocalRunner:
    """Starts, runs, stops, settles and retries the executions of one store."""

    def __init__(
        self,
        pipelines: StoredPipelines,
        *,
        job_start: str,
        warm_idle_s: float,
        on_line: LineListener | None = None,
        endpoints: EndpointManager | None = None,
        reports: ReportKeeper | None = None,
        notes: list[str] | None = None,
    ) -> None:
        """Args:
        pipelines: the store's pipelines (its records and objects are the runner's too).
        job_start: ``warm`` (the store's job host) or ``subprocess`` (local.job_start).
        warm_idle_s: how long an idle job host stays (local.warm_host_idle_s).
        on_line: gets every line a job prints, as it prints it (--follow).
        endpoints: the endpoint manager (default: pipeline.local.endpoint.manager, imported
            when first needed; tests pass a recorder that starts no server).
        reports: keeps each run's HTML page (None: no page is drawn).
        notes: where remarks for people go (shared with the caller).
        """
        self.pipelines = pipelines
        self.records, self.objects = pipelines.records, pipelines.objects
        self.store_root = Path(self.records.root)
        self.job_start, self.warm_idle_s = job_start, warm_idle_s
        self.on_line, self.reports = on_line, reports
        self._endpoint_manager = endpoints
        self.notes: list[str] = [] if notes is None else notes
        self._listed: listing.Entries | None = None  # read from the store's file when first listed
        self._relisted = 0  # summaries read afresh since the file was last written

    # -- start -----------------------------------------------------------------------------

    def check_start(self, pipeline: PipelineDefinition, parameters: Mapping[str, Any]) -> None:
        """Refuse now what a start of a definition not stored yet would refuse (nothing kept)."""
        graph = self.pipelines.graph(pipeline.definition, pipeline.name)
        self._checked_execution(graph, pipeline.name, 0, parameters)

    def start(
        self,
        pipeline_name: str,
        parameters: Mapping[str, Any],
        display_name: str | None = None,
        selection: Selection | None = None,
    ) -> str:
        """Check the overrides as the service does and record a new execution; its ARN.

        It runs in :meth:`run`. ``parameters`` are checked here even after the CLI checked
        them: StartPipelineExecution refuses bad parameters whoever calls it. With a
        ``selection`` only its steps run; the steps they depend on are reused from its
        source (default: the newest Succeeded or Failed execution), and the execution
        starts with the source's parameter values, ``parameters`` overriding them.
        """
        record = self.pipelines.version(pipeline_name)
        graph = self.pipelines.graph(record["PipelineDefinition"], pipeline_name)
        chosen: dict[str, Any] | None = None
        reused: dict[str, Mapping[str, Any]] = {}
        source_values: Mapping[str, Any] = {}
        if selection is not None and selection.steps:
            source_id = None if selection.source is None else id_of(selection.source)
            chosen, reused = plan_selection(
                self.records, graph, record["Version"], pipeline_name, selection.steps, source_id
            )
            # SageMaker's guide: a selective run starts with its source's parameter values
            # (the reused steps' outputs were made with them); the overrides win.
            source_values = self.records.execution(chosen["source_execution_id"]).parameters
        execution = self._checked_execution(
            graph, pipeline_name, record["Version"], parameters, source_values
        )
        execution.extra.update(display_name=display_name, selection=chosen)
        self._record_held(execution, chosen, reused)
        return execution.execution_arn

    def _record_held(
        self,
        execution: ExecutionRecord,
        chosen: Mapping[str, Any] | None,
        reused: Mapping[str, Mapping[str, Any]],
    ) -> Claim:
        """Hold the new execution, then record it (its reused steps first, so no reader
        sees it without them), naming this process its starter; see the module docstring.
        The hold lasts until it has run (or this process ends: then it ends Stopped)."""
        execution_id = execution.execution_id
        claim = hold(self.records, execution_id)
        execution.starter = owner_of_this_process()
        try:
            keep_reserve(self.records, execution_id)  # no room to record its end: no start
            with deferred_interrupts():
                if chosen:
                    source = chosen["source_execution_id"]
                    record_reused(self.records, execution_id, source, reused)
                self.records.save_execution(execution)
        except BaseException:
            claim.release()  # nothing is left half-recorded: no record, no folder
            shutil.rmtree(self.records.layout.execution(execution_id), ignore_errors=True)
            raise
        return claim

    def _checked_execution(
        self,
        graph: PipelineGraph,
        pipeline_name: str,
        version: int,
        parameters: Mapping[str, Any],
        base: Mapping[str, Any] | None = None,
    ) -> ExecutionRecord:
        """A new execution's record, once every request SageMaker would refuse is refused.

        ``base``: values that replace the defaults (a selective run's source's), under the
        ``parameters`` given; only declared names are taken from it."""
        declared = [dict(p) for p in graph.parameters]
        names = {p["Name"] for p in declared}
        start_with = {k: v for k, v in (base or {}).items() if k in names}
        values = resolve_parameters(declared, {**start_with, **parameters})
        execution_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))
        execution = ExecutionRecord(
            pipeline_name=pipeline_name,
            pipeline_version=version,
            execution_id=execution_id,
            execution_arn=f"{self.pipelines.arn(pipeline_name)}/execution/{execution_id}",
            status=Status.EXECUTING,
            parameters=values,
            started_at=utc_now().isoformat(),
        )
        variables = self._identity(execution).variables()
        check_start(graph, values, parameters, variables)  # what SageMaker refuses never starts
        return execution

    def _identity(self, execution: ExecutionRecord) -> ExecutionIdentity:
        """The Execution.* variables of a recorded execution (the check and the run agree)."""
        name = execution.pipeline_name
        return ExecutionIdentity(
            name,
            self.pipelines.arn(name),
            execution.execution_id,
            execution.execution_arn,
            execution.started_at,
        )

    # -- run -------------------------------------------------------------------------------

    def run(self, execution_ref: str, on_step: StepListener) -> ExecutionSummary:
        """Run the recorded execution (once) to its end, reporting each step to ``on_step``.

        An execution that has ended is only described; one another live process holds is
        refused (MoonpipeError: "already being run by another process").
        """
        execution_id = id_of(execution_ref)
        data = settle(self.records, execution_id)
        if data.status == Status.EXECUTING:
            self._run(execution_id, on_step)
        return summarize(self.records, self.objects, execution_id)

    def _run(self, execution_id: str, on_step: StepListener) -> None:
        """Run while holding the execution; however the run ends, its end is recorded.

        The writes, in order: (1) ``begin_run`` re-reads the record under the hold (taken
        by :meth:`start` or :meth:`retry`, or now), names this process its runner and only
        then looks for a --stop, so a stop at any moment before is seen here or sees this
        runner and signals it; (2) each step's record as it moves; (3) the execution's end,
        re-read and written while Ctrl-C and SIGTERM wait, still under the hold, so no
        reader finds the lock free while the record says Executing. Everything between (1)
        and (3) (the page keeper, the job host's start, the run) is inside one ``try``:
        an interruption anywhere there is recorded as the run's end.

        A KeyboardInterrupt (Ctrl-C, or SIGTERM as the CLI and the sweep worker map it)
        after a --stop is the stop working: the execution ends Stopped and nothing is
        raised; without a --stop it ends Stopped too (resumable) and goes on up.
        """
        claim = hold(self.records, execution_id)
        report: ReportFollower = _NoPage()
        result: RunResult | None = None
        ending = threading.Event()
        try:
            data = begin_run(claim)
            if data is None:  # ended already, or a --stop came first
                return
            graph = self.pipelines.graph_of(data.pipeline_name, data.pipeline_version)
            report = self._follower(execution_id)
            self._load_deployer_while_waiting(graph, ending)

            def on_step_then_report(step: StepRecord) -> None:
                on_step(step)
                if not is_active(step.status):
                    report.refresh(final=False)

            runtime = job_runtime(self.store_root, self.job_start, self.warm_idle_s, self.notes)
            preset, selected = preset_for(self.records, data)
            result = run_execution(
                self.store_root,
                self.pipelines.region,
                graph,
                self._identity(data),
                data.parameters,
                on_step_then_report,
                self.endpoints,
                self.on_line,
                preset=preset,
                selected=selected,
                job_starter=runtime,
            )
            finish(self.records, execution_id, result.status, result.failure_reason)
        except BaseException as exc:
            stopped = self._record_interruption(execution_id, result, exc)
            report.refresh(final=False)  # an interrupted run must not wait for a plot
            if stopped and isinstance(exc, KeyboardInterrupt):
                return
            raise
        finally:
            ending.set()
            claim.release()
        report.refresh()

    def _load_deployer_while_waiting(self, graph: PipelineGraph, ending: threading.Event) -> None:
        """Import the endpoint manager while the run's first job runs, the main thread
        asleep, when a step will deploy: imported at the Endpoint step it cost ~15 ms of
        every deploying run (docs/speed.md). A run that ends first (nothing to wait on, a
        failure) never imports it."""
        if self._endpoint_manager is not None or not any(
            spec.step_type == "Endpoint" for spec in graph.steps
        ):
            return

        def when_waiting() -> None:
            if wait_for_a_job(ending):
                with contextlib.suppress(Exception):  # the deploy step reports it, if it recurs
                    self.endpoints()

        threading.Thread(target=when_waiting, name="deployer-ready", daemon=True).start()

    def _record_interruption(
        self, execution_id: str, result: RunResult | None, exc: BaseException
    ) -> bool:
        """Record the end of a run ``exc`` interrupted (unless it is recorded); True when it
        ended Stopped by a --stop."""
        with deferred_interrupts():
            data = self.records.execution(execution_id)
            if is_active(data.status):
                if result is not None:  # the run went to its end; recording it was cut short
                    finish(self.records, execution_id, result.status, result.failure_reason)
                else:
                    status, reason = outcome_of_error(self.records, data, exc)
                    close_execution(self.records, execution_id, status, reason)
                data = self.records.execution(execution_id)
        return data.status == Status.STOPPED and stop_requested(self.records, execution_id)

    def _follower(self, execution_id: str) -> ReportFollower:
        if self.reports is None:
            return _NoPage()
        return self.reports.follow(self.store_root, execution_id, self.notes)

    # -- read, stop, retry -----------------------------------------------------------------

    def settle(self, execution_ref: str) -> ExecutionRecord:
        """The execution's record, ended first if its runner is gone."""
        return settle(self.records, id_of(execution_ref))

    def describe(self, execution_ref: str) -> ExecutionSummary:
        """One execution by id or ARN (settled first: a dead runner's shows as Failed)."""
        data = self.settle(execution_ref)
        return summarize(self.records, self.objects, data.execution_id)

    def executions(self, pipeline_name: str) -> list[ExecutionSummary]:
        """The pipeline's executions, newest first (without their steps).

        An ended execution's summary is kept while its files are unchanged (a long-lived
        reader, the UI, lists a thousand executions every half second: reading and checking
        twelve thousand records each time took two seconds of a core); one that runs, or
        whose record or steps changed (a retry, a step record, its page), is read again.
        What is kept is also written to the store's listing.json for the next process (a
        new ``--ui`` before its first page; pipeline.local.listing).
        """
        if self._listed is None:
            self._listed = listing.load(self.records.layout.listing())
        ids = self.records.execution_ids()
        found = [self._listed_summary(self._listed, i) for i in ids]
        if self._relisted:  # kept for the next process (the UI's start, --list-executions)
            listing.save(
                self.records.layout.listing(),
                {i: self._listed[i] for i in ids if i in self._listed},
            )
            self._relisted = 0
        mine = [s for s in found if s.pipeline_name == pipeline_name]
        return sorted(mine, key=lambda s: s.started_at or utc_now(), reverse=True)

    def _listed_summary(self, kept: listing.Entries, execution_id: str) -> ExecutionSummary:
        entry = kept.get(execution_id)
        if entry is not None and entry[0] == self._files_of(execution_id):
            return entry[1]
        settle(self.records, execution_id)
        signature = self._files_of(execution_id)
        summary = summarize(self.records, self.objects, execution_id, with_steps=False)
        if not is_active(summary.status):
            kept[execution_id] = (signature, summary)
        elif kept.pop(execution_id, None) is None:
            return summary  # running, and nothing kept of it to forget
        self._relisted += 1
        return summary

    def _files_of(self, execution_id: str) -> tuple[int, ...]:
        """What changes when anything a listed summary shows changes: the execution's
        record, its steps folder (records are replaced by rename) and its page."""
        layout = self.records.layout
        found = []
        for path in (
            layout.execution_record(execution_id),
            layout.steps(execution_id),
            layout.report(execution_id),
        ):
            try:
                info = path.stat()
                found += [info.st_mtime_ns, info.st_size, info.st_ino]
            except OSError:
                found += [-1, -1, -1]
        return tuple(found)

    def stop(self, execution_ref: str) -> ExecutionSummary:
        """Stop a running execution from any process; it ends Stopped, as on SageMaker."""
        execution_id = id_of(execution_ref)
        stop_running(self.records, execution_id)
        return summarize(self.records, self.objects, execution_id)

    def retry(self, execution_ref: str) -> str:
        """RetryPipelineExecution: the same execution resumes where it failed (in :meth:`run`).

        As for :meth:`start`, the execution is held before its record says Executing again.
        """
        execution_id = id_of(execution_ref)
        check_retryable(self.settle(execution_id))  # the service's words for a running one
        claim = hold(self.records, execution_id)
        try:
            keep_reserve(self.records, execution_id)
            with deferred_interrupts():
                current = self.records.execution(execution_id)  # re-read under the hold
                data = prepare_retry(self.records, current, owner_of_this_process())
        except BaseException:
            free_reserve(self.records, execution_id)
            claim.release()
            raise
        return data.execution_arn

    def reusable(
        self, pipeline_name: str, wanted: Sequence[Mapping[str, Any]]
    ) -> list[ExecutionSummary | None]:
        """For each resolved parameter set, the newest execution that already did exactly it.

        That is: Succeeded, of the pipeline's newest version, not a selective execution (its
        reused steps came from another run), with every parameter value equal.
        """
        version = self.pipelines.version(pipeline_name)["Version"]
        done = [
            data
            for data in map(self.records.execution, self.records.execution_ids())
            if _complete_run(data, pipeline_name, version)
        ]
        done.sort(key=lambda data: data.started_at or "", reverse=True)
        found: list[ExecutionSummary | None] = []
        for values in wanted:
            match = next((d for d in done if dict(d.parameters) == dict(values)), None)
            found.append(
                None if match is None else summarize(self.records, self.objects, match.execution_id)
            )
        return found

    # -- the job host and the endpoints ----------------------------------------------------

    def warm_up(self) -> None:
        """Let a job host import now (if jobs start warm); it serves this store once an
        execution runs, and leaves with this process if none does (nothing is created)."""
        prepare_warm_host(self.store_root, self.job_start, self.warm_idle_s)

    def stop_warm_host(self) -> int | None:
        """Ask the store's warm job host to leave now; its pid, or None if none was running."""
        from pipeline.local.warm.client import WarmStarter

        return WarmStarter(self.store_root).stop()

    def endpoints(self) -> EndpointManager:
        """The endpoint manager, imported on first use (running a pipeline may not need it)."""
        if self._endpoint_manager is None:
            from pipeline.local.endpoint import manager

            self._endpoint_manager = manager
        return self._endpoint_manager


def _complete_run(data: ExecutionRecord, pipeline_name: str, version: int) -> bool:
    """True for a Succeeded, whole (not selective) execution of this pipeline version."""
    return (
        data.pipeline_name == pipeline_name
        and data.pipeline_version == version
        and data.status == Status.SUCCEEDED
        and not data.extra.get("selection")
    )
