"""--upsert, --start, --wait: the card's own command, and a selective start.

``python run_pipeline.py --upsert --start [--wait] [--param ...]``: build the definition and
store it, check the parameters, start an execution and see it through (locally it runs
here; on SageMaker it is followed with --wait, else described once).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, replace
from typing import Any

from pipeline.commands.base import Command
from pipeline.commands.front import Front
from pipeline.config import check_own_parameters
from pipeline.console import Console, upsert_line
from pipeline.core.errors import ConfigError
from pipeline.core.parameters import param_overrides, resolve_parameters
from pipeline.core.records import PipelineDefinition, Selection
from pipeline.core.refs import pipeline_arn_of
from pipeline.core.status import Status, is_ended
from pipeline.local.graph import PipelineGraph
from pipeline.targets.base import Target


@dataclass(frozen=True)
class SelectionFlags:
    """A selective start: --steps A,B or --from-step NAME, and --from-execution ID."""

    steps: tuple[str, ...] | None = None
    from_step: str | None = None
    from_execution: str | None = None


@dataclass(frozen=True)
class RunPipeline:
    """--upsert, then --start (with --wait, --follow, --param, a selection), in that order."""

    upsert: bool = False
    start: bool = False
    wait: bool = False
    follow: bool = False
    params: tuple[str, ...] = ()  # NAME=VALUE, as given
    selection: SelectionFlags | None = None
    max_parallel_steps: int | None = None  # --upsert's ParallelismConfiguration


def run_pipeline(request: RunPipeline, front: Front) -> int:
    """Upsert and/or start; 1 when the execution ended other than Succeeded."""
    overrides = param_overrides(request.params)
    check_own_parameters(overrides)  # moonpipe's documented ranges, before anything starts
    cfg, console = front.config(), front.console
    target = front.target(console.job_line if request.follow else console.live_line)
    if request.follow:
        target.check_follow()
    if request.upsert:
        target.check_upsert_settings(cfg.aws.role_arn)  # before the SDK loads
    if request.start:
        target.warm_up()  # a local job host imports while the SDK builds and the checks run
    pipeline = front.definition() if request.upsert else None
    if pipeline is not None and request.max_parallel_steps is not None:
        pipeline = replace(pipeline, max_parallel_steps=request.max_parallel_steps)
    name = cfg.pipeline.name
    pipeline_arn, declared = None, None
    if pipeline is not None:
        if request.start:  # a typo in --param must not even update the pipeline
            declared = _checked_start(target, pipeline, overrides)
        upserted = target.upsert_pipeline(pipeline, cfg.aws.role_arn)
        if not request.start:
            console.upserted(name, target.name, upserted)
            return 0
        pipeline_arn = upserted.pipeline_arn
        console.progress(upsert_line(name, target.name, upserted))
    if declared is None:
        declared = target.pipeline_parameters(name)
    values = resolve_parameters(declared, overrides)
    console.defaults = {p["Name"]: p.get("DefaultValue") for p in declared}
    selection = selection_of(request.selection, target, name)
    arn = target.start_execution(name, {k: values[k] for k in overrides}, selection=selection)
    console.progress(f"started execution {arn}")
    if not request.follow:
        watch_metrics(console, target, name)
    summary = target.run_or_follow(arn, request.wait, console.step)
    console.execution(summary, pipeline_arn or pipeline_arn_of(arn), notes=target.notes)
    return exit_code(summary.status)


def watch_metrics(console: Console, target: Target, pipeline_name: str) -> None:
    """A live line per running step, from the metrics its job logs (its MetricDefinitions,
    read from the stored definition when a job first prints)."""
    console.watch_metrics(lambda: metric_patterns(target.pipeline_graph(pipeline_name)))


def metric_patterns(graph: PipelineGraph) -> dict[str, list[tuple[str, str]]]:
    """Step name -> (metric name, regex) of its MetricDefinitions, as SageMaker applies them
    to a training job's log."""
    found: dict[str, list[tuple[str, str]]] = {}
    for step in graph.steps:
        spec = step.arguments.get("AlgorithmSpecification") or {}
        for metric in spec.get("MetricDefinitions") or []:
            if isinstance(metric.get("Name"), str) and isinstance(metric.get("Regex"), str):
                found.setdefault(step.name, []).append((metric["Name"], metric["Regex"]))
    return found


def exit_code(status: str) -> int:
    """1 once the execution has ended other than Succeeded; 0 while it runs or after success."""
    return 1 if is_ended(status) and status != Status.SUCCEEDED else 0


def _checked_start(
    target: Target, pipeline: PipelineDefinition, overrides: dict[str, str]
) -> list[dict[str, Any]]:
    """The definition's declared parameters, once a start with ``overrides`` is checked
    (before the upsert): refused now if the start would be."""
    declared: list[dict[str, Any]] = json.loads(pipeline.definition).get("Parameters", [])
    values = resolve_parameters(declared, overrides)
    target.check_start_of(pipeline, {k: values[k] for k in overrides})
    return declared


def selection_of(
    flags: SelectionFlags | None, target: Target, pipeline_name: str
) -> Selection | None:
    """The SelectiveExecutionConfig of --steps / --from-step (None for a full start),
    refused here, on both targets, if it names steps the stored definition has not."""
    if flags is None:
        return None
    from pipeline.local.selection import check_selection, downstream  # a pure helper

    graph = target.pipeline_graph(pipeline_name)
    if flags.steps is not None:
        steps = list(flags.steps)
        if not steps:
            raise ConfigError("--steps needs step names, e.g. --steps EvaluateMoonClassifier")
        for step in steps:
            _known_step(graph, pipeline_name, step)
    else:
        _known_step(graph, pipeline_name, str(flags.from_step))
        steps = sorted(downstream(graph, str(flags.from_step)))
    check_selection(graph, pipeline_name, steps)
    in_order = tuple(s.name for s in graph.steps if s.name in steps)
    return Selection(in_order, flags.from_execution)


def _known_step(graph: PipelineGraph, pipeline_name: str, name: str) -> None:
    """Refuse a step the definition has not, in the service's words, with the nearest name."""
    names = [s.name for s in graph.steps]
    if name in names:
        return
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    guess = f" (did you mean {close[0]}?)" if close else ""
    raise ConfigError(
        f"SelectedSteps: {name} is not a step of pipeline {pipeline_name}{guess}; "
        f"its steps: {', '.join(names)}"
    )


COMMANDS = (
    Command(
        RunPipeline,
        run_pipeline,
        "[--upsert [--max-parallel-steps N]] [--start [--wait] [--follow] "
        "[--param NAME=VALUE ...]\n"
        "                  [--steps A,B | --from-step NAME [--from-execution ID]]]",
    ),
)
