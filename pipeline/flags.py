"""run_pipeline.py's flags: the parser --help shows, the checks between flags, and the one
typed request (pipeline.commands) they become.

Nothing below :func:`parse` sees an ``argparse.Namespace``: :data:`_MODES` pairs each action's
flag with the request it makes, for the check that only one action is given and for the
request itself. The usage text is generated from pipeline.commands.TABLE.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from pipeline.commands import Invocation, Request, usage
from pipeline.commands.compare import CompareExecutions
from pipeline.commands.definition import ShowDefinition
from pipeline.commands.endpoints import CSV, DeleteEndpoint, InvokeEndpoint, ListEndpoints
from pipeline.commands.executions import DescribeExecution, ListExecutions
from pipeline.commands.front import Settings
from pipeline.commands.host import StopHost
from pipeline.commands.registry import DeployModelPackage, ListModelPackages, UpdateModelPackage
from pipeline.commands.report import WriteReport
from pipeline.commands.retry import RetryExecution
from pipeline.commands.run import RunPipeline, SelectionFlags
from pipeline.commands.stop import StopExecution
from pipeline.commands.sweep import Sweep
from pipeline.commands.ui import ServeUI
from pipeline.config import DEFAULT_CONFIG_PATH, TARGETS
from pipeline.console import LIST_LIMIT
from pipeline.sweep.plan import DEFAULT_METRIC

EPILOG = """\
examples (local target: no AWS account, runs on this machine):
  python run_pipeline.py --upsert --start --wait            # build, store, run, deploy
  python run_pipeline.py --start --param HiddenDim=40 --param Epochs=50
  python run_pipeline.py --list-executions
  python run_pipeline.py --describe-execution <execution-id>
  python run_pipeline.py --stop <execution-id>              # from another terminal
  python run_pipeline.py --report                          # HTML report of the latest run
  python run_pipeline.py --compare <id> <id>               # which is better, and why
  python run_pipeline.py --sweep HiddenDim=8,16,32 --deploy-best   # compare, ship the best
  python run_pipeline.py --start --from-step EvaluateMoonClassifier   # rerun evaluation only
  python run_pipeline.py --retry <execution-id>            # resume a Failed or Stopped run
  python run_pipeline.py --list-model-packages             # the registry: versions, approval
  python run_pipeline.py --approve 3                       # or --reject 3 (version or ARN)
  python run_pipeline.py --deploy-model-package 3          # serve version 3 from the endpoint
  printf '0.0,0.9\\n1.0,-0.5\\n' | python run_pipeline.py --invoke moonpipe-endpoint --data -
  python run_pipeline.py --definition > definition.json     # offline, no credentials
  python run_pipeline.py --ui                              # the studio in your browser
  python run_pipeline.py --module-name pipelines.abalone.pipeline \\
      --kwargs '{"pipeline_name": "Abalone"}' --upsert --start   # any SDK pipeline module

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


def parse(argv: Sequence[str] | None = None) -> Invocation:
    """The settings and the one request the flags ask for.

    Raises:
        SystemExit: --help (0), or a usage error argparse has printed (2).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    check_combination(parser, args)
    [make] = [make for _, given, make in _modes(args) if given]
    return Invocation(_settings(args), make(args))


class Parser(argparse.ArgumentParser):
    """argparse, with "did you mean" for a mistyped flag (Python 3.11's argparse has none),
    and a usage error as one line (--help shows the usage)."""

    def error(self, message: str) -> NoReturn:
        """One line, exit 2; an unknown flag gets the nearest real one."""
        prefix = "unrecognized arguments: "
        if message.startswith(prefix):
            flags = [f for a in self._actions for f in a.option_strings if f.startswith("--")]
            said = []
            for word in message[len(prefix) :].split():
                close = difflib.get_close_matches(word.split("=")[0], flags, n=1, cutoff=0.6)
                guess = f" (did you mean {close[0]}?)" if word.startswith("-") and close else ""
                said.append(f"{word}{guess}")
            message = ("unrecognized argument " if len(said) == 1 else prefix) + ", ".join(said)
            message += "; see --help"
        self.exit(2, f"{self.prog}: error: {message}\n")  # one line, not the whole usage


def build_parser() -> argparse.ArgumentParser:
    """All flags, grouped the way --help shows them."""
    parser = Parser(
        prog="run_pipeline.py",
        description="Build, run and manage the moonpipe pipeline locally or on SageMaker.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_pipeline_flags(parser.add_argument_group("pipeline actions (combine in this order)"))
    _add_management_flags(parser.add_argument_group("management (one at a time)"))
    _add_registry_flags(parser.add_argument_group("model registry (one at a time)"))
    settings = parser.add_argument_group("settings (override the config file)")
    _add_settings_flags(settings)
    _add_sweep_flags(parser.add_argument_group(SWEEP_GROUP))
    _add_selection_flags(parser.add_argument_group("rerun part of a pipeline"))
    json_flag = parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead of text"
    )
    parser.usage = usage(_synopsis([*settings._group_actions, json_flag]))
    return parser


SWEEP_GROUP = "sweeps (one execution per point; points never deploy)"


def _synopsis(actions: Sequence[argparse.Action]) -> list[str]:
    """``[--config PATH]``, ``[--target {local,sagemaker}]``...: flags as usage shows them."""
    shown = []
    for action in actions:
        flag = action.option_strings[0]
        if action.nargs == 0:
            shown.append(f"[{flag}]")
        elif action.choices:
            shown.append(f"[{flag} {{{','.join(map(str, action.choices))}}}]")
        else:
            shown.append(f"[{flag} {action.metavar or action.dest.upper()}]")
    return shown


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
        help="override a pipeline parameter for --start or --sweep (repeatable)",
    )
    run.add_argument(
        "--max-parallel-steps",
        type=int,
        metavar="N",
        help="with --upsert: the pipeline's ParallelismConfiguration, at most N steps at once "
        "(default: every step whose dependencies are met)",
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
        "--limit",
        type=int,
        metavar="N",
        help=f"with --list-executions: the newest N (default {LIST_LIMIT}; 0: all)",
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
    manage.add_argument(
        "--content-type", metavar="TYPE", help=f"Content-Type for --invoke (default {CSV})"
    )
    manage.add_argument(
        "--accept",
        metavar="TYPE",
        help=f"Accept for --invoke (default {CSV}: one prediction per line)",
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
    manage.add_argument(
        "--ui",
        action="store_true",
        help="serve the local studio on 127.0.0.1 (first line: its URL with the token)",
    )
    manage.add_argument(
        "--port", type=int, metavar="N", help="the port --ui listens on (default: a free one)"
    )


def _add_registry_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--list-model-packages",
        nargs="?",
        const="",
        metavar="GROUP",
        help="registered model package versions (of GROUP, default every group), newest first",
    )
    group.add_argument(
        "--approve", metavar="REF", help="approve a package version (its number or ARN)"
    )
    group.add_argument("--reject", metavar="REF", help="reject a package version (number or ARN)")
    group.add_argument(
        "--deploy-model-package",
        metavar="REF",
        help="serve an Approved package version (number or ARN) from the endpoint",
    )
    group.add_argument(
        "--endpoint-name",
        metavar="NAME",
        help="with --deploy-model-package: the endpoint (default: the config's endpoint.name)",
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
    where.add_argument("--region", help="AWS region (default: from config)")
    where.add_argument("--bucket", help="S3 bucket for code and data (sagemaker target)")
    where.add_argument(
        "--role-arn", help="SageMaker execution role for --upsert (sagemaker target)"
    )
    where.add_argument(
        "--module-name",
        metavar="PKG.MODULE",
        help="the pipeline to build: a module whose get_pipeline(region, role, "
        "default_bucket, ...) returns an SDK Pipeline, the MLOps template's way "
        "(default: moonpipe's own, pipeline.assembly.moonpipe)",
    )
    where.add_argument(
        "--kwargs",
        metavar="JSON",
        help="get_pipeline's arguments as a JSON object, e.g. "
        """'{"pipeline_name": "Abalone"}' (region, role and default_bucket default to """
        "the config's)",
    )
    where.add_argument(
        "--store",
        "--store-root",
        dest="store",
        metavar="PATH",
        help="local store root (local target; default: the config's local.store_root)",
    )


def _add_sweep_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="NAME=V1,V2",
        help="run one execution per combination of values (repeatable: the product)",
    )
    group.add_argument(
        "--max-parallel",
        type=int,
        metavar="N",
        help="points running at once (default: the target's, 2 locally, 4 on SageMaker)",
    )
    group.add_argument(
        "--deploy-best",
        nargs="?",
        const=DEFAULT_METRIC,
        metavar="METRIC",
        help=f"rerun the best point (by METRIC, default {DEFAULT_METRIC}) with Deploy=true, "
        "Approved",
    )
    group.add_argument(
        "--rerun",
        action="store_true",
        help="run every point again, even one whose exact execution already succeeded",
    )


def _add_selection_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--retry",
        metavar="ID",
        help="resume a Failed or Stopped execution from the steps that did not succeed",
    )
    group.add_argument(
        "--steps",
        metavar="A,B",
        help="with --start: run only these steps; the rest is reused from --from-execution",
    )
    group.add_argument(
        "--from-step",
        metavar="NAME",
        help="with --start: run NAME and every step downstream of it",
    )
    group.add_argument(
        "--from-execution",
        metavar="ID",
        help="the execution unselected steps are reused from (default: the newest ended one)",
    )


def check_combination(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Reject flag combinations that make no sense (argparse error, exit 2). A flag that
    needs an action it was given without names that action, before "nothing to do"."""
    if args.wait and not (args.start or args.retry is not None):
        parser.error("--wait needs --start or --retry (it follows the execution they run)")
    if args.follow and not (args.start or args.retry is not None):
        parser.error(
            "--follow needs --start or --retry (it shows the jobs of the execution they run)"
        )
    if args.max_parallel_steps is not None and not args.upsert:
        parser.error("--max-parallel-steps needs --upsert (it is kept with the pipeline)")
    if args.max_parallel_steps is not None and args.max_parallel_steps < 1:
        parser.error(f"--max-parallel-steps must be 1 or more, got {args.max_parallel_steps}")
    if args.param and not (args.start or args.sweep):
        parser.error(
            "--param needs --start (parameters apply to the execution --start starts) "
            "or --sweep (shared by every point)"
        )
    _check_sweep_flags(parser, args)
    _check_selection_flags(parser, args)
    for flag, value, action in (
        ("--data", args.data, "--invoke"),
        ("--content-type", args.content_type, "--invoke"),
        ("--accept", args.accept, "--invoke"),
        ("--endpoint-name", args.endpoint_name, "--deploy-model-package"),
    ):
        if value is not None and getattr(args, action[2:].replace("-", "_")) is None:
            parser.error(f"{flag} needs {action}")
    if args.limit is not None and not args.list_executions:
        parser.error("--limit needs --list-executions")
    if args.limit is not None and args.limit < 0:
        parser.error(f"--limit must be 0 (all) or more, got {args.limit}")
    if args.report_out is not None and args.report is None and args.compare is None:
        parser.error("--report-out needs --report or --compare")
    modes = [flag for flag, given, _ in _modes(args) if given]
    if not modes:
        parser.error("nothing to do: give an action such as --upsert --start --wait (see --help)")
    if len(modes) > 1:
        parser.error(f"{modes[0]} cannot be combined with {modes[1]}")
    if args.invoke is not None and args.data is None:
        parser.error("--invoke needs --data FILE.csv (or --data - to read stdin)")
    if args.port is not None and not args.ui:
        parser.error("--port needs --ui")
    if args.port is not None and not 0 <= args.port <= 65535:
        parser.error(f"--port must be between 1 and 65535 (0: any free port), got {args.port}")
    if args.compare is not None and len(args.compare) < 2:
        parser.error("--compare needs two or more execution ids (see --list-executions)")


def _check_sweep_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if not args.sweep:
        for flag, given in (
            ("--deploy-best", args.deploy_best is not None),
            ("--max-parallel", args.max_parallel is not None),
            ("--rerun", args.rerun),
        ):
            if given:
                parser.error(f"{flag} needs --sweep NAME=V1,V2,... (e.g. --sweep HiddenDim=8,16)")
        return
    if args.max_parallel is not None and args.max_parallel < 1:
        parser.error(f"--max-parallel must be 1 or more, got {args.max_parallel}")


def _check_selection_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.steps is not None and args.from_step is not None:
        parser.error("--steps cannot be combined with --from-step; choose one")
    selective = args.steps is not None or args.from_step is not None
    if selective and not args.start:
        parser.error("--steps and --from-step need --start")
    if args.from_execution is not None and not selective:
        parser.error("--from-execution needs --steps or --from-step")


RequestMaker = Callable[[argparse.Namespace], Request]


def _modes(args: argparse.Namespace) -> list[tuple[str, bool, RequestMaker]]:
    """Each action: its flag (as an error names it), whether it was given, its request."""
    return [
        (_first_pipeline_flag(args), args.upsert or args.start, _run),
        ("--definition", args.definition, lambda a: ShowDefinition()),
        ("--list-executions", args.list_executions, _list_executions),
        (
            "--describe-execution",
            args.describe_execution is not None,
            lambda a: DescribeExecution(a.describe_execution),
        ),
        ("--stop", args.stop is not None, lambda a: StopExecution(a.stop)),
        ("--list-endpoints", args.list_endpoints, lambda a: ListEndpoints()),
        ("--invoke", args.invoke is not None, _invoke),
        ("--delete-endpoint", args.delete_endpoint is not None, _delete),
        (
            "--report",
            args.report is not None,
            lambda a: WriteReport(a.report or None, a.report_out),
        ),
        (
            "--compare",
            args.compare is not None,
            lambda a: CompareExecutions(tuple(a.compare), a.report_out),
        ),
        ("--sweep", bool(args.sweep), _sweep),
        ("--retry", args.retry is not None, _retry),
        ("--stop-host", args.stop_host, lambda a: StopHost()),
        ("--ui", args.ui, lambda a: ServeUI(a.port or 0)),
        (
            "--list-model-packages",
            args.list_model_packages is not None,
            lambda a: ListModelPackages(a.list_model_packages or None),
        ),
        (
            "--approve",
            args.approve is not None,
            lambda a: UpdateModelPackage(a.approve, "Approved"),
        ),
        ("--reject", args.reject is not None, lambda a: UpdateModelPackage(a.reject, "Rejected")),
        (
            "--deploy-model-package",
            args.deploy_model_package is not None,
            lambda a: DeployModelPackage(a.deploy_model_package, a.endpoint_name),
        ),
    ]


def _first_pipeline_flag(args: argparse.Namespace) -> str:
    flags = ("upsert", "start")
    given = [f"--{name}" for name in flags if getattr(args, name)]
    return given[0] if given else "--upsert"


def _run(args: argparse.Namespace) -> RunPipeline:
    selective = args.steps is not None or args.from_step is not None
    selection = None
    if selective:
        steps = None
        if args.steps is not None:
            steps = tuple(s.strip() for s in args.steps.split(",") if s.strip())
        selection = SelectionFlags(steps, args.from_step, args.from_execution)
    return RunPipeline(
        args.upsert,
        args.start,
        args.wait,
        args.follow,
        tuple(args.param),
        selection,
        max_parallel_steps=args.max_parallel_steps,
    )


def _list_executions(args: argparse.Namespace) -> ListExecutions:
    return ListExecutions(LIST_LIMIT if args.limit is None else args.limit)


def _retry(args: argparse.Namespace) -> RetryExecution:
    return RetryExecution(args.retry, args.wait, args.follow)


def _invoke(args: argparse.Namespace) -> InvokeEndpoint:
    return InvokeEndpoint(args.invoke, args.data, args.content_type or CSV, args.accept or CSV)


def _delete(args: argparse.Namespace) -> DeleteEndpoint:
    return DeleteEndpoint(args.delete_endpoint)


def _sweep(args: argparse.Namespace) -> Sweep:
    return Sweep(
        tuple(args.sweep), tuple(args.param), args.max_parallel, args.deploy_best, args.rerun
    )


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(
        args.config,
        args.target,
        args.region,
        args.bucket,
        args.role_arn,
        args.store,
        args.json,
        module_name=args.module_name,
        kwargs=args.kwargs,
    )
