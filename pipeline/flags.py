"""run_pipeline.py's flags: the parser --help shows, and the checks between flags.

Split from pipeline/cli.py, which carries out what the flags ask for.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.config import DEFAULT_CONFIG_PATH, TARGETS
from pipeline.selection_cli import add_selection_flags, check_selection_flags
from pipeline.sweep_cli import add_sweep_flags, check_sweep_flags

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
  run_pipeline.py [--upsert] [--start [--wait] [--follow] [--param NAME=VALUE ...]] [settings]
                  [--json]
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
    add_sweep_flags(parser)
    add_selection_flags(parser)
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
        "--follow",
        action="store_true",
        help="print each job's output as it runs, indented under its step (local target)",
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
    if args.follow and not args.start:
        parser.error("--follow needs --start (it shows the jobs of the execution --start runs)")
    if args.param and not (args.start or args.sweep):
        parser.error("--param needs --start (parameters apply to the execution --start starts)")
    check_sweep_flags(parser, args)
    check_selection_flags(parser, args)
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
        (_first_pipeline_flag(args), args.upsert or args.start or args.wait or args.follow),
        ("--definition", args.definition),
        ("--list-executions", args.list_executions),
        ("--describe-execution", args.describe_execution is not None),
        ("--stop", args.stop is not None),
        ("--list-endpoints", args.list_endpoints),
        ("--invoke", args.invoke is not None),
        ("--delete-endpoint", args.delete_endpoint is not None),
        ("--report", args.report is not None),
        ("--compare", args.compare is not None),
        ("--sweep", bool(args.sweep)),
        ("--retry", args.retry is not None),
        ("--stop-host", args.stop_host),
    ]


def _first_pipeline_flag(args: argparse.Namespace) -> str:
    flags = ("upsert", "start", "wait", "follow")
    given = [f"--{name}" for name in flags if getattr(args, name)]
    return given[0] if given else "--upsert"
