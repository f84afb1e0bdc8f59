"""run_pipeline.py's flags and what each action does, whatever the target.

Parsing and the checks between flags live here; everything a person reads is formatted
by pipeline.console. Heavy imports (the SageMaker SDK through pipeline.build.definition,
boto3 through pipeline.targets.sagemaker, the local engine) happen only inside the action that
needs them, so ``--start`` on the local target never loads the SDK.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from pipeline.config import DEFAULT_CONFIG_PATH
from pipeline.console import Console, upsert_line
from pipeline.errors import ConfigError, MoonpipeError, ParameterError
from pipeline.overrides import parse_assignment, resolve_parameters
from pipeline.targets import TARGETS
from pipeline.targets.base import PipelineDefinition, Target

EPILOG = """\
examples (local target: no AWS account, runs on this machine):
  python run_pipeline.py --upsert --start --wait            # build, store, run, deploy
  python run_pipeline.py --start --param HiddenDim=40 --param Epochs=50
  python run_pipeline.py --list-executions
  python run_pipeline.py --describe-execution <execution-id>
  python run_pipeline.py --stop <execution-id>              # from another terminal
  python run_pipeline.py --report                          # HTML report of the latest run
  python run_pipeline.py --compare <id> <id>               # which is better, and why
  printf '0.0,0.9\\n1.0,-0.5\\n' | python run_pipeline.py --invoke moonpipe-endpoint --data -
  python run_pipeline.py --definition > definition.json     # offline, no credentials

examples (SageMaker; credentials from your AWS profile, e.g. AWS_PROFILE=ml):
  python run_pipeline.py --target sagemaker --region eu-west-1 --bucket my-bucket \\
      --role-arn arn:aws:iam::123456789012:role/SageMakerExecution --upsert
  python run_pipeline.py --target sagemaker --start --wait --param HiddenDim=40
  python run_pipeline.py --target sagemaker --list-endpoints
  python run_pipeline.py --target sagemaker --invoke moonpipe-endpoint --data points.csv
  python run_pipeline.py --target sagemaker --delete-endpoint moonpipe-endpoint

notes:
  On the local target there is no service to hand an execution to: --start runs it to
  the end in this process, with or without --wait.
  With --json, stdout carries one JSON document and step progress goes to stderr.
  Exit codes: 0 success, 1 the execution or an endpoint request failed, 2 usage or config
  error (nothing was started).
"""


USAGE = """
  run_pipeline.py [--upsert] [--start [--wait] [--param NAME=VALUE ...]] [settings] [--json]
  run_pipeline.py --definition [settings] [--json]
  run_pipeline.py {--list-executions | --describe-execution ID | --stop ID | --list-endpoints |
                   --invoke NAME --data FILE | --delete-endpoint NAME | --stop-host}
                  [settings] [--json]
  run_pipeline.py {--report [ID] | --compare ID ID [ID ...]} [--report-out PATH] [settings]"""


def build_parser() -> argparse.ArgumentParser:
    """All flags, grouped the way --help shows them."""
    parser = argparse.ArgumentParser(
        prog="run_pipeline.py",
        usage=USAGE,
        description="Build, run and manage the moonpipe pipeline locally or on SageMaker.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_pipeline_flags(parser.add_argument_group("pipeline actions (combine in this order)"))
    _add_management_flags(parser.add_argument_group("management (one at a time)"))
    _add_settings_flags(parser.add_argument_group("settings (override the config file)"))
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return parser


def _add_pipeline_flags(run: argparse._ArgumentGroup) -> None:
    run.add_argument(
        "--upsert",
        action="store_true",
        help="build the definition and create or update the pipeline",
    )
    run.add_argument(
        "--start",
        action="store_true",
        help="start an execution with the stored definition's defaults",
    )
    run.add_argument(
        "--wait", action="store_true", help="follow the started execution step by step to its end"
    )
    run.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a pipeline parameter for --start (repeatable)",
    )
    run.add_argument(
        "--definition",
        action="store_true",
        help="print the definition JSON and exit (offline, no credentials)",
    )


def _add_management_flags(manage: argparse._ArgumentGroup) -> None:
    manage.add_argument(
        "--list-executions", action="store_true", help="the pipeline's executions, newest first"
    )
    manage.add_argument(
        "--describe-execution", metavar="ID", help="one execution (id or ARN): steps, reasons, logs"
    )
    manage.add_argument(
        "--stop", metavar="ID", help="stop a running execution (id or ARN); it ends Stopped"
    )
    manage.add_argument("--list-endpoints", action="store_true", help="endpoints and their status")
    manage.add_argument(
        "--invoke", metavar="NAME", help="send --data to the endpoint NAME, print predictions"
    )
    manage.add_argument("--data", metavar="FILE", help="request body for --invoke; '-' reads stdin")
    manage.add_argument("--content-type", help="Content-Type for --invoke (default text/csv)")
    manage.add_argument(
        "--accept", help="Accept for --invoke (default text/csv: one prediction per line)"
    )
    manage.add_argument("--delete-endpoint", metavar="NAME", help="delete the endpoint NAME")
    manage.add_argument(
        "--stop-host",
        action="store_true",
        help="stop the local store's warm job host now (it also leaves when idle)",
    )
    manage.add_argument(
        "--report",
        nargs="?",
        const="",
        metavar="EXECUTION_ID",
        help="write one execution's self-contained HTML report (default: the latest)",
    )
    manage.add_argument(
        "--report-out",
        type=Path,
        metavar="PATH",
        help="where --report or --compare writes the HTML file",
    )
    manage.add_argument(
        "--compare",
        nargs="+",
        metavar="ID",
        help="compare two or more executions: a table here and an HTML comparison report",
    )


def _add_settings_flags(where: argparse._ArgumentGroup) -> None:
    where.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG_PATH,
        metavar="PATH",
        help="pipeline config YAML (default: config/pipeline.yaml)",
    )
    where.add_argument("--target", choices=TARGETS, help="where to run (default: from config)")
    where.add_argument("--region", help="AWS region")
    where.add_argument("--bucket", help="S3 bucket for code and data (sagemaker target)")
    where.add_argument(
        "--role-arn", help="SageMaker execution role for --upsert (sagemaker target)"
    )
    where.add_argument(
        "--store",
        "--store-root",
        dest="store",
        metavar="PATH",
        help="local store root (local target; default .moonpipe)",
    )


def check_combination(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Reject flag combinations that make no sense (argparse error, exit 2)."""
    modes = [flag for flag, on in _modes(args) if on]
    if not modes:
        parser.error("nothing to do: give an action such as --upsert --start --wait (see --help)")
    if len(modes) > 1:
        parser.error(f"{modes[0]} cannot be combined with {modes[1]}")
    if args.wait and not args.start:
        parser.error("--wait needs --start (it follows the execution that --start starts)")
    if args.param and not args.start:
        parser.error("--param needs --start (parameters apply to the execution --start starts)")
    for flag, value in (
        ("--data", args.data),
        ("--content-type", args.content_type),
        ("--accept", args.accept),
    ):
        if value is not None and args.invoke is None:
            parser.error(f"{flag} can only be used with --invoke")
    if args.invoke is not None and args.data is None:
        parser.error("--invoke needs --data FILE.csv (or --data - to read stdin)")
    if args.report_out is not None and args.report is None and args.compare is None:
        parser.error("--report-out can only be used with --report or --compare")
    if args.compare is not None and len(args.compare) < 2:
        parser.error("--compare needs two or more execution ids (see --list-executions)")


def _modes(args: argparse.Namespace) -> list[tuple[str, bool]]:
    return [
        (_first_pipeline_flag(args), args.upsert or args.start or args.wait),
        ("--definition", args.definition),
        ("--list-executions", args.list_executions),
        ("--describe-execution", args.describe_execution is not None),
        ("--stop", args.stop is not None),
        ("--list-endpoints", args.list_endpoints),
        ("--invoke", args.invoke is not None),
        ("--delete-endpoint", args.delete_endpoint is not None),
        ("--report", args.report is not None),
        ("--compare", args.compare is not None),
        ("--stop-host", args.stop_host),
    ]


def _first_pipeline_flag(args: argparse.Namespace) -> str:
    given = [f"--{name}" for name in ("upsert", "start", "wait") if getattr(args, name)]
    return given[0] if given else "--upsert"


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


def run(args: argparse.Namespace, console: Console) -> int:
    """Carry out the parsed action; raises MoonpipeError for people."""
    overrides = param_overrides(args.param)
    cfg = load_config(args.config, config_overrides(args))
    if args.definition:
        console.definition(build_pipeline(cfg).definition)
        return 0
    target = make_target(cfg)
    if args.upsert or args.start:
        return run_pipeline_actions(args, cfg, target, overrides, console)
    return run_management(args, cfg, target, console)


def run_pipeline_actions(
    args: argparse.Namespace,
    cfg: Any,
    target: Target,
    overrides: dict[str, str],
    console: Console,
) -> int:
    """--upsert, then --start (checked first), then --wait; returns the exit code."""
    name = cfg.pipeline.name
    pipeline_arn = None
    values = None
    if args.start and hasattr(target, "warm_up"):
        target.warm_up()  # the local target's job host imports torch while the SDK builds
    if args.upsert:
        pipeline = _build_for_upsert(cfg, target)
        if args.start:  # a typo in --param must not even update the pipeline
            declared = json.loads(pipeline.definition).get("Parameters", [])
            values = resolve_parameters(declared, overrides)
        upserted = target.upsert_pipeline(pipeline, cfg.aws.role_arn)
        pipeline_arn = upserted.pipeline_arn
        if not args.start:
            console.upserted(name, target.name, upserted)
            return 0
        console.progress(upsert_line(name, target.name, upserted))
    if values is None:
        values = resolve_parameters(target.pipeline_parameters(name), overrides)
    execution_arn = target.start_execution(name, {k: values[k] for k in overrides})
    console.progress(f"started execution {execution_arn}")
    if args.wait or target.runs_in_foreground:
        summary = target.wait(execution_arn, console.step)
        code = 0 if summary.status == "Succeeded" else 1
    else:
        summary = target.describe_execution(execution_arn)
        code = 0
    pipeline_arn = pipeline_arn or execution_arn.split("/execution/")[0]
    console.execution(summary, pipeline_arn, notes=getattr(target, "notes", ()))
    return code


def _build_for_upsert(cfg: Any, target: Target) -> PipelineDefinition:
    """The definition to upsert; on SageMaker a missing role stops us before building."""
    if target.name == "sagemaker":
        cfg.require_role()
    return build_pipeline(cfg)


def run_management(args: argparse.Namespace, cfg: Any, target: Target, console: Console) -> int:
    """The one-shot commands: list, describe, invoke, delete."""
    notes = getattr(target, "notes", ())
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


# Indirections that import on first use (and that tests replace with fakes).


def load_config(path: Path, overrides: dict[str, str]) -> Any:
    """pipeline.config.load_config, imported only when a command runs."""
    from pipeline.config import load_config as load

    return load(path, overrides, os.environ)


def build_pipeline(cfg: Any) -> PipelineDefinition:
    """pipeline.build.definition.build_pipeline: the only path that imports the SageMaker SDK."""
    # The SDK logs "sagemaker.config INFO - Not applying SDK defaults..." to stdout, which
    # would corrupt --definition and --json output: keep its INFO chatter out, and send
    # anything it still prints while building to stderr.
    logging.getLogger("sagemaker.config").setLevel(logging.WARNING)
    with contextlib.redirect_stdout(sys.stderr):
        from pipeline.build.definition import build_pipeline as build

        return build(cfg)


def make_target(cfg: Any) -> Target:
    """pipeline.targets.make_target, imported lazily like the rest."""
    from pipeline.targets import make_target as make

    return make(cfg)
