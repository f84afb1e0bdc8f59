"""What each of run_pipeline.py's actions does, whatever the target.

The flags and the checks between them are pipeline/flags.py; everything a person reads is
formatted by pipeline.console. What a command needs from the rest of the project (config, builder,
target) arrives as one :class:`Services` argument, so tests hand in fakes instead of patching
this module. Heavy imports (the SageMaker SDK through pipeline.assembly.builder, boto3 through
pipeline.targets.sagemaker, the local engine) happen only inside the service that needs them,
so ``--start`` on the local target never loads the SDK.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import PipelineConfig, load_config
from pipeline.console import Console, upsert_line
from pipeline.core.errors import ConfigError, MoonpipeError, ParameterError
from pipeline.core.records import LineListener, PipelineDefinition
from pipeline.overrides import parse_assignment, resolve_parameters
from pipeline.report.background import BackgroundKeeper
from pipeline.selection_cli import run_retry, selection_kwargs
from pipeline.targets import make_target
from pipeline.targets.base import Target


def config_overrides(args: argparse.Namespace) -> dict[str, str]:
    """The flags that override config keys, only those given."""
    given = {
        "target": args.target,
        "region": args.region,
        "bucket": args.bucket,
        "role_arn": args.role_arn,
        "store_root": args.store,
    }
    return {key: value for key, value in given.items() if value is not None}


def param_overrides(assignments: list[str]) -> dict[str, str]:
    """--param NAME=VALUE flags as a mapping; a name given twice is a mistake."""
    overrides: dict[str, str] = {}
    for text in assignments:
        name, value = parse_assignment(text)
        if name in overrides:
            raise ParameterError(f"--param {name} is given twice; keep one")
        overrides[name] = value
    return overrides


def build_definition(cfg: PipelineConfig) -> PipelineDefinition:
    """pipeline.assembly.builder.build_pipeline, the only path that imports the SageMaker SDK
    (imported here, on first use, so other commands never pay for it)."""
    # The SDK logs "sagemaker.config INFO - Not applying SDK defaults..." to stdout, which
    # would corrupt --definition and --json output: keep its INFO chatter out, and send
    # anything it still prints while building to stderr.
    logging.getLogger("sagemaker.config").setLevel(logging.WARNING)
    with contextlib.redirect_stdout(sys.stderr):
        from pipeline.assembly.builder import build_pipeline

        return build_pipeline(cfg)


def _load_config(path: Path, overrides: Mapping[str, str]) -> PipelineConfig:
    return load_config(path, overrides, os.environ)


def _make_target(cfg: PipelineConfig, on_line: LineListener | None) -> Target:
    """A person's run returns before its page's plots are drawn (a detached follower)."""
    return make_target(cfg, on_line, reports=BackgroundKeeper())


@dataclass(frozen=True)
class Services:
    """What the CLI needs from the rest of the project; the defaults are the real ones."""

    load_config: Callable[[Path, Mapping[str, str]], PipelineConfig] = _load_config
    build_pipeline: Callable[[PipelineConfig], PipelineDefinition] = build_definition
    make_target: Callable[[PipelineConfig, LineListener | None], Target] = _make_target


def run(args: argparse.Namespace, console: Console, services: Services | None = None) -> int:
    """Carry out the parsed action; raises MoonpipeError for people."""
    services = services or Services()
    overrides = param_overrides(args.param)
    cfg = services.load_config(args.config, config_overrides(args))
    if args.definition:
        console.definition(services.build_pipeline(cfg).definition)
        return 0
    if args.follow and cfg.target != "local":
        raise ConfigError(
            "--follow shows local jobs' output as they run; on SageMaker a job's log is in "
            "CloudWatch (see --describe-execution); drop --follow"
        )
    target = services.make_target(cfg, console.job_line if args.follow else None)
    if args.upsert or args.start:
        if args.start and hasattr(target, "warm_up"):
            target.warm_up()  # the local target's job host imports torch while the SDK builds
        pipeline = _build_for_upsert(cfg, target, services) if args.upsert else None
        return run_pipeline_actions(args, cfg, target, overrides, console, pipeline)
    if args.retry is not None:
        return run_retry(args, target, console)
    if args.sweep:
        from pipeline.sweep_cli import run_sweep_action

        return run_sweep_action(args, cfg, target, overrides, console)
    return run_management(args, cfg, target, console)


def run_pipeline_actions(
    args: argparse.Namespace,
    cfg: PipelineConfig,
    target: Target,
    overrides: dict[str, str],
    console: Console,
    pipeline: PipelineDefinition | None,
) -> int:
    """--upsert (``pipeline``, already built), then --start (checked first), then --wait."""
    name = cfg.pipeline.name
    pipeline_arn = None
    values = None
    if pipeline is not None:
        if args.start:  # a typo in --param must not even update the pipeline
            declared = json.loads(pipeline.definition).get("Parameters", [])
            values = resolve_parameters(declared, overrides)
            target.check_start_of(pipeline, {k: values[k] for k in overrides})
        upserted = target.upsert_pipeline(pipeline, cfg.aws.role_arn)
        pipeline_arn = upserted.pipeline_arn
        if not args.start:
            console.upserted(name, target.name, upserted)
            return 0
        console.progress(upsert_line(name, target.name, upserted))
    if values is None:
        values = resolve_parameters(target.pipeline_parameters(name), overrides)
    execution_arn = target.start_execution(
        name, {k: values[k] for k in overrides}, **selection_kwargs(args, target, name)
    )
    console.progress(f"started execution {execution_arn}")
    if args.wait or target.runs_in_foreground:
        summary = target.wait(execution_arn, console.step)
        code = 0 if summary.status == "Succeeded" else 1
    else:
        summary = target.describe_execution(execution_arn)
        code = 0
    pipeline_arn = pipeline_arn or execution_arn.split("/execution/")[0]
    console.execution(summary, pipeline_arn, notes=target.notes)
    return code


def _build_for_upsert(
    cfg: PipelineConfig, target: Target, services: Services
) -> PipelineDefinition:
    """The definition to upsert; on SageMaker a missing role stops us before the SDK loads."""
    if target.name == "sagemaker":
        cfg.require_role()
    return services.build_pipeline(cfg)


def run_management(
    args: argparse.Namespace, cfg: PipelineConfig, target: Target, console: Console
) -> int:
    """The one-shot commands: list, describe, invoke, delete."""
    notes = target.notes
    if args.list_executions:
        console.executions(
            target.list_executions(cfg.pipeline.name), _defaults(target, cfg.pipeline.name)
        )
    elif args.describe_execution is not None:
        console.described(target.describe_execution(args.describe_execution), notes)
    elif args.stop is not None:
        console.described(target.stop_execution(args.stop), notes)
    elif args.list_endpoints:
        console.endpoints(target.list_endpoints())
    elif args.report is not None:
        from pipeline.report.actions import write_report

        path = write_report(target, cfg.pipeline.name, args.report or None, args.report_out)
        console.report_written(path)
    elif args.compare is not None:
        from pipeline.report.actions import write_comparison

        comparison, path = write_comparison(target, args.compare, args.report_out)
        console.compared(comparison, path)
    elif args.invoke is not None:
        accept = args.accept or "text/csv"
        body = target.invoke_endpoint(
            args.invoke, read_data(args.data), args.content_type or "text/csv", accept
        )
        console.invoked(args.invoke, body, accept)
    elif args.stop_host:
        stop_warm_host(target, console)
    else:
        target.delete_endpoint(args.delete_endpoint)
        console.deleted(args.delete_endpoint)
    return 0


def stop_warm_host(target: Any, console: Console) -> None:
    """--stop-host: the local target's warm job host leaves (its running jobs end with it)."""
    if getattr(target, "name", None) != "local":
        raise ConfigError("--stop-host is for the local target (SageMaker runs no warm host)")
    pid = target.stop_warm_host()
    if console.json_mode:
        console.emit_json({"warm_host": {"stopped": pid is not None, "pid": pid}})
    else:
        console.progress(f"warm host (pid {pid}) stopped" if pid else "no warm host was running")


def _defaults(target: Target, pipeline_name: str) -> dict[str, Any]:
    """The stored definition's parameter defaults ({} when there is no pipeline yet)."""
    try:
        declared = target.pipeline_parameters(pipeline_name)
    except MoonpipeError:
        return {}
    return {p["Name"]: p.get("DefaultValue") for p in declared}


def read_data(source: str) -> bytes:
    """The --invoke body: a file, or stdin for '-'."""
    try:
        return sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"--data {source}: cannot read it ({exc.strerror}); give a CSV file or -"
        ) from None
