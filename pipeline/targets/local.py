"""LocalTarget: the Target protocol backed by the embedded engine and a store on disk.

Nothing here imports the SageMaker SDK (``--start`` alone must start fast). Executions run
in the foreground, inside :meth:`LocalTarget.wait`; everything they write survives the
process, so a later LocalTarget on the same store root describes and lists them.
"""

from __future__ import annotations

import os
import secrets
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pipeline.core.errors import ConfigError, ExecutionNotFoundError
from pipeline.core.names import local_arn, utc_now
from pipeline.core.records import (
    EndpointRef,
    ExecutionData,
    ExecutionFacts,
    ExecutionSummary,
    LineListener,
    PipelineDefinition,
    Selection,
    StepListener,
    StepRecord,
    UpsertResult,
)
from pipeline.local.api_gate import cache_service_model_in, check_start
from pipeline.local.execution import ExecutionIdentity, run_execution, unsupported_step_types
from pipeline.local.graph import DefinitionError, PipelineGraph, parse_definition
from pipeline.local.handlers import HANDLERS
from pipeline.local.handlers.base import EndpointManager
from pipeline.local.interruptions import close_execution, interrupted_outcome, runner_claim, settle
from pipeline.local.interruptions import stop as stop_running
from pipeline.local.selection import plan_selection, preset_for, record_reused
from pipeline.local.store.objects import ObjectStore, StoreError
from pipeline.local.store.records import ExecutionRecord, Records
from pipeline.local.summary import summarize
from pipeline.local.warm.launch import warm_starter
from pipeline.overrides import resolve_parameters
from pipeline.report.background import REPORT_MODES
from pipeline.targets.local_iteration import LocalIteration

_ID_ALPHABET = string.ascii_lowercase + string.digits


class LocalTarget(LocalIteration):
    """Runs pipeline definitions on this machine; see the module docstring (retry, plan and
    reuse are in :class:`LocalIteration`)."""

    name = "local"
    runs_in_foreground = True

    def __init__(
        self,
        store_root: Path,
        region: str = "us-east-1",
        on_line: LineListener | None = None,
        endpoints: EndpointManager | None = None,
        job_start: str = "subprocess",
        warm_idle_s: float = 600.0,
        report: str = "in-process",
    ) -> None:
        """``endpoints``: the endpoint manager (default: pipeline.local.endpoint.manager,
        imported when first needed; tests pass a recorder that starts no server)."""
        self.store_root = Path(store_root).resolve()  # jobs run in other cwds
        self.region = region
        self.on_line = on_line
        self._endpoint_manager = endpoints
        self.job_start, self.warm_idle_s = job_start, warm_idle_s
        self.report_mode = report  # one of REPORT_MODES
        cache_service_model_in(self.store_root / "gate")
        self.records = Records(self.store_root)
        self.objects = ObjectStore(self.store_root)
        self.notes: list[str] = []
        # One command parses a definition and reads a pipeline record once: --upsert --start
        # used to parse it three times and read the record four.
        self._plans: dict[str, PipelineGraph] = {}
        self._pipelines: dict[tuple[str, int | None], dict[str, Any]] = {}

    def pipeline_arn(self, pipeline_name: str) -> str:
        """The ARN SageMaker would give the pipeline (names are lower-cased in ARNs)."""
        return local_arn(self.region, "pipeline", pipeline_name)

    def upsert_pipeline(self, pipeline: PipelineDefinition, role_arn: str | None) -> UpsertResult:
        """Check the definition, store its artifacts, then keep it as the newest version.

        An unchanged pipeline (same definition, description and role as the newest version)
        stores nothing; artifacts already held with the same bytes are left as they are.
        """
        self._plan(pipeline.definition, pipeline.name)
        try:
            for uri, data in sorted(pipeline.artifacts.items()):
                self.objects.put(uri, data)
        except StoreError as err:
            raise ConfigError(f"cannot store pipeline artifact: {err}") from None
        record = {
            "PipelineName": pipeline.name,
            "PipelineDescription": pipeline.description,
            "PipelineDefinition": pipeline.definition,
            "RoleArn": role_arn,
            "CreationTime": utc_now().isoformat(),
        }
        version, changed = self.records.add_pipeline_version(pipeline.name, record)
        if changed:  # what is now the newest version, known without reading it back
            stored = {**record, "Version": version}
            self._pipelines[(pipeline.name, None)] = self._pipelines[(pipeline.name, version)] = (
                stored
            )
        return UpsertResult(self.pipeline_arn(pipeline.name), changed, version)

    def pipeline_parameters(self, pipeline_name: str) -> list[dict[str, Any]]:
        """The newest stored definition's Parameters."""
        plan = self._plan(self._pipeline(pipeline_name)["PipelineDefinition"], pipeline_name)
        return [dict(p) for p in plan.parameters]

    def check_start_of(self, pipeline: PipelineDefinition, parameters: Mapping[str, Any]) -> None:
        """Gate a start of a definition not stored yet (``--upsert --start``): nothing is kept."""
        plan = self._plan(pipeline.definition, pipeline.name)
        self._checked_execution(plan, pipeline.name, 0, parameters)

    def start_execution(
        self,
        pipeline_name: str,
        parameters: Mapping[str, Any],
        display_name: str | None = None,
        selection: Selection | None = None,  # TEMP until engine-runner merge
        selected_steps: Sequence[str] | None = None,
        source_execution: str | None = None,
    ) -> str:
        """Check the overrides as the service does and record a new execution.

        It runs in :meth:`wait`. ``parameters`` are checked here even after the CLI checked
        them: StartPipelineExecution refuses bad parameters whoever calls it. With
        ``selected_steps`` only those run; the steps they depend on are reused from
        ``source_execution`` (default: the newest Succeeded or Failed one).
        """
        if selection is not None:  # TEMP until engine-runner merge: the Protocol's Selection
            selected_steps, source_execution = selection.steps, selection.source
        record = self._pipeline(pipeline_name)
        plan = self._plan(record["PipelineDefinition"], pipeline_name)
        execution = self._checked_execution(plan, pipeline_name, record["Version"], parameters)
        recorded, reused = None, {}  # TEMP until engine-runner merge: was "selection"
        if selected_steps:
            source_id = None if source_execution is None else _execution_id(source_execution)
            recorded, reused = plan_selection(
                self.records, plan, record["Version"], pipeline_name, selected_steps, source_id
            )
        execution.extra.update(display_name=display_name, selection=recorded)
        self.records.save_execution(execution)
        if recorded:
            record_reused(
                self.records, execution.execution_id, recorded["source_execution_id"], reused
            )
        return execution.execution_arn

    def _checked_execution(
        self, plan: PipelineGraph, pipeline_name: str, version: int, parameters: Mapping[str, Any]
    ) -> ExecutionRecord:
        """A new execution's record, once every request SageMaker would refuse is refused."""
        values = resolve_parameters([dict(p) for p in plan.parameters], parameters)
        execution_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))
        execution = ExecutionRecord(
            pipeline_name=pipeline_name,
            pipeline_version=version,
            execution_id=execution_id,
            execution_arn=f"{self.pipeline_arn(pipeline_name)}/execution/{execution_id}",
            status="Executing",
            parameters=values,
            started_at=utc_now().isoformat(),
        )
        variables = self._identity(execution).variables()
        check_start(plan, values, parameters, variables)  # what SageMaker refuses never starts
        return execution

    def _pipeline(self, name: str, version: int | None = None) -> dict[str, Any]:
        """A stored pipeline version (the newest by default), read once per command."""
        key = (name, version)
        if key not in self._pipelines:
            record = self.records.pipeline(name, version)
            self._pipelines[key] = self._pipelines[(name, record["Version"])] = record
        return self._pipelines[key]

    def _plan(self, definition: str, pipeline_name: str) -> PipelineGraph:
        """The checked plan of a definition, parsed once per command."""
        if definition not in self._plans:
            self._plans[definition] = _plan(definition, pipeline_name)
        return self._plans[definition]

    def _identity(self, execution: ExecutionRecord) -> ExecutionIdentity:
        """The Execution.* variables of a recorded execution (the check and the run agree)."""
        name = execution.pipeline_name
        return ExecutionIdentity(
            name,
            self.pipeline_arn(name),
            execution.execution_id,
            execution.execution_arn,
            execution.started_at,
        )

    def wait(self, execution_arn: str, on_step: StepListener) -> ExecutionSummary:
        """Run the execution (once) to its end, reporting each step to ``on_step``."""
        data = settle(self.records, _execution_id(execution_arn))
        if data.status == "Executing" and data.ran and not data.runner:
            self._finish(
                data,
                "Failed",
                "the process running this execution stopped before it finished; "
                f"resume it with --retry {data.execution_id}",
            )
        elif data.status == "Executing":
            self._run(data, on_step)
        return summarize(self.records, self.objects, data.execution_id)

    def _run(self, data: ExecutionRecord, on_step: StepListener) -> None:
        """Run while holding the runner lock; an interruption ends the records too.

        A KeyboardInterrupt (Ctrl-C, or SIGTERM as run_pipeline.py maps it) after a --stop
        is the stop working: the execution ends Stopped and the summary is returned.
        """
        name = data.pipeline_name
        plan = self._plan(self._pipeline(name, data.pipeline_version)["PipelineDefinition"], name)
        report: Any = REPORT_MODES[self.report_mode](self.store_root, data.execution_id, self.notes)
        starter = warm_starter(self.store_root, self.job_start, self.warm_idle_s, self.notes)

        def on_step_then_report(step: StepRecord) -> None:
            on_step(step)
            if step.status not in ("Starting", "Executing"):
                report.refresh(final=False)

        preset, selected = preset_for(self.records, data)
        with runner_claim(self.records, data):
            try:
                result = run_execution(
                    self.store_root,
                    self.region,
                    plan,
                    self._identity(data),
                    data.parameters,
                    on_step_then_report,
                    self.endpoints,
                    self.on_line,
                    preset=preset,
                    selected=selected,
                    job_starter=starter,
                )
            except BaseException as exc:
                status, reason = interrupted_outcome(
                    self.records, data.execution_id, "the execution was interrupted"
                )
                close_execution(self.records, data, status, reason)
                report.refresh(final=False)  # an interrupted run must not wait for a plot
                if status == "Stopped" and isinstance(exc, KeyboardInterrupt):
                    return
                raise
            self._finish(data, result.status, result.failure_reason)
        report.refresh()

    def _finish(self, data: ExecutionRecord, status: str, reason: str | None) -> None:
        data.status, data.failure_reason, data.ended_at = status, reason, utc_now().isoformat()
        self.records.save_execution(data)

    def describe_execution(self, execution_ref: str) -> ExecutionSummary:
        """One execution by id or ARN (settled first: a dead runner's shows as Failed)."""
        execution_id = _execution_id(execution_ref)
        settle(self.records, execution_id)
        return summarize(self.records, self.objects, execution_id)

    def stop_execution(self, execution_ref: str) -> ExecutionSummary:
        """Stop a running execution from any process; it ends Stopped, as on SageMaker."""
        execution_id = _execution_id(execution_ref)
        stop_running(self.records, execution_id)
        return summarize(self.records, self.objects, execution_id)

    def list_executions(self, pipeline_name: str) -> list[ExecutionSummary]:
        """The pipeline's executions, newest first (without their steps)."""
        for execution_id in self.records.execution_ids():
            settle(self.records, execution_id)
        found = [
            summarize(self.records, self.objects, i, with_steps=False)
            for i in self.records.execution_ids()
        ]
        mine = [s for s in found if s.pipeline_name == pipeline_name]
        return sorted(mine, key=lambda s: s.started_at or utc_now(), reverse=True)

    def warm_up(self) -> None:
        """Start the store's warm job host now (if jobs start warm), without waiting for it."""
        warm_starter(self.store_root, self.job_start, self.warm_idle_s, [])

    def stop_warm_host(self) -> int | None:
        """Ask the store's warm job host to leave now; its pid, or None if none was running."""
        from pipeline.local.warm.client import WarmStarter

        return WarmStarter(self.store_root).stop()

    def list_endpoints(self) -> list[EndpointRef]:
        """Endpoints the endpoint helper knows, with their URL and status."""
        infos = self.endpoints().list_endpoints(self.store_root)
        return [EndpointRef(i.name, i.url, i.status) for i in infos]

    def invoke_endpoint(self, name: str, body: bytes, content_type: str, accept: str) -> bytes:
        """One request to a local endpoint (EndpointError on 4xx/5xx or when not serving)."""
        return self.endpoints().invoke(self.store_root, name, body, content_type, accept)

    def delete_endpoint(self, name: str) -> None:
        """Stop and forget a local endpoint."""
        self.endpoints().delete_endpoint(self.store_root, name)

    def endpoints(self) -> EndpointManager:
        """The endpoint manager, imported on first use (running a pipeline may not need it)."""
        if self._endpoint_manager is None:
            from pipeline.local.endpoint import manager

            self._endpoint_manager = manager
        return self._endpoint_manager

    # -- TEMP until engine-runner merge: the Protocol verbs the front calls, over today's code --

    default_parallel = max(1, min(2, os.cpu_count() or 1))  # TEMP until engine-runner merge

    def check_upsert_settings(self, role_arn: str | None) -> None:
        """TEMP until engine-runner merge: nothing to check locally."""

    def check_follow(self) -> None:
        """TEMP until engine-runner merge: local jobs' output can be streamed."""

    def pipeline_graph(self, pipeline_name: str) -> PipelineGraph:
        """TEMP until engine-runner merge: today's ``plan``."""
        return self.plan(pipeline_name)

    def run_or_follow(
        self, execution_arn: str, wait: bool, on_step: StepListener
    ) -> ExecutionSummary:
        """TEMP until engine-runner merge: the execution runs here, wait or not."""
        return self.wait(execution_arn, on_step)

    def execution_metrics(self, execution_ref: str) -> dict[str, float]:
        """TEMP until engine-runner merge: the summary's metrics."""
        return dict(self.describe_execution(execution_ref).metrics)

    def execution_facts(self, execution_ref: str) -> ExecutionFacts:
        """TEMP until engine-runner merge: report/local_source's facts."""
        from pipeline.report.local_source import local_facts

        return local_facts(self.store_root, _execution_id(execution_ref))

    def execution_data(self, execution_ref: str) -> ExecutionData:
        """TEMP until engine-runner merge: report/local_source's data and model."""
        from pipeline.report.local_source import _points

        execution_id = _execution_id(execution_ref)
        props = [p for _, p in self.records.steps(execution_id) if isinstance(p, Mapping)]
        train, test = (_points(self.objects, props, name) for name in ("train", "test"))
        artifacts = [p.get("ModelArtifacts") for p in props]
        uri = next((a["S3ModelArtifacts"] for a in artifacts if isinstance(a, Mapping)), None)
        return ExecutionData(
            train,
            test,
            uri,
            None if uri is None else self.objects.path(uri),
            self.records.execution_dir(execution_id),
            "" if uri else "no trained model in this execution",
        )

    def report_path(self, execution_id: str) -> Path:
        """TEMP until engine-runner merge: executions/<id>/report.html."""
        from pipeline.report.local_source import report_path

        return report_path(self.store_root, execution_id)

    def comparison_path(self, execution_ids: Sequence[str]) -> Path:
        """TEMP until engine-runner merge: comparisons/<ids>.html."""
        from pipeline.report.write import comparison_path

        return comparison_path(self.store_root, list(execution_ids))

    def draw_pages_later(
        self, execution_ids: Sequence[str], comparison: Path | None, pages: Sequence[str]
    ) -> None:
        """TEMP until engine-runner merge: today's BackgroundReports."""
        from pipeline.report.background import BackgroundReports

        BackgroundReports(self.store_root, list(execution_ids), comparison, self.notes, list(pages))

    def point_runs(self) -> _TempPointRuns:
        """TEMP until engine-runner merge: today's sweep workers behind the PointRuns shape."""
        from pipeline.sweep_worker import LocalWorkers

        workers = LocalWorkers(self.store_root, self.region, self.job_start, self.warm_idle_s)
        return _TempPointRuns(workers)


class _TempPointRuns:
    """TEMP until engine-runner merge: PointRuns over pipeline.sweep_worker.LocalWorkers."""

    def __init__(self, workers: Any) -> None:
        self.workers = workers

    def launch(self, execution_arn: str) -> _TempPointRun:
        holder = _TempPoint(execution_arn)
        self.workers.launch(holder)
        return _TempPointRun(holder)


class _TempPoint:
    """TEMP until engine-runner merge: what LocalWorkers.launch reads and sets."""

    def __init__(self, execution_arn: str) -> None:
        self.execution_arn, self.worker = execution_arn, None


class _TempPointRun:
    """TEMP until engine-runner merge: a worker as the PointRun shape."""

    def __init__(self, point: _TempPoint) -> None:
        self.point = point

    def exited(self) -> bool | None:
        return bool(self.point.worker is None or self.point.worker.poll() is not None)

    def wait(self) -> None:
        if self.point.worker is not None:
            self.point.worker.wait()


def _execution_id(ref: str) -> str:
    execution_id = ref.rstrip("/").rsplit("/", 1)[-1]
    if not execution_id:
        raise ExecutionNotFoundError(f"{ref!r} is not an execution id or ARN")
    return execution_id


def _plan(definition: str, pipeline_name: str) -> PipelineGraph:
    """Parse and check a definition, as one clear error for people."""
    try:
        plan = parse_definition(definition)
    except DefinitionError as err:
        raise ConfigError(f"pipeline {pipeline_name}: {err}") from None
    unknown = unsupported_step_types(plan)
    if unknown:
        raise ConfigError(
            f"pipeline {pipeline_name}: the local engine cannot run step type "
            f"{unknown[0]}; supported: {', '.join(HANDLERS)}"
        )
    return plan
