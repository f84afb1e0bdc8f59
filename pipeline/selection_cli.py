"""--retry, and --start's selective flags (--steps, --from-step, --from-execution).

Kept out of pipeline.cli so that file only gains a flag group, a mode and two hand-offs.
"""

from __future__ import annotations

import argparse

from pipeline.console import Console
from pipeline.core.errors import ConfigError
from pipeline.targets.base import Target


def add_selection_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of retry and selective execution."""
    group = parser.add_argument_group("rerun part of a pipeline")
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


def check_selection_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """argparse errors (exit 2) for the flags used wrongly."""
    if args.steps is not None and args.from_step is not None:
        parser.error("--steps cannot be combined with --from-step; choose one")
    selective = args.steps is not None or args.from_step is not None
    if selective and not args.start:
        parser.error("--steps and --from-step need --start")
    if args.from_execution is not None and not selective:
        parser.error("--from-execution needs --steps or --from-step")


def selection_kwargs(args: argparse.Namespace, target: Target, pipeline_name: str) -> dict:
    """Extra start_execution arguments for a selective start ({} for a full one)."""
    if args.steps is None and args.from_step is None:
        return {}
    from pipeline.local.selection import check_selection, downstream

    plan = target.plan(pipeline_name)  # type: ignore[attr-defined]
    if args.steps is not None:
        steps = [s.strip() for s in args.steps.split(",") if s.strip()]
        if not steps:
            raise ConfigError("--steps needs step names, e.g. --steps EvaluateMoonClassifier")
    else:
        check_selection(plan, pipeline_name, [args.from_step])  # an unknown name
        steps = sorted(downstream(plan, args.from_step))
    check_selection(plan, pipeline_name, steps)  # refused here, on both targets
    steps = [s.name for s in plan.steps if s.name in steps]  # in pipeline order
    return {"selected_steps": steps, "source_execution": args.from_execution}


def run_retry(args: argparse.Namespace, target: Target, console: Console) -> int:
    """--retry ID: resume it, follow it to its end, print the summary."""
    arn = target.retry_execution(args.retry)  # type: ignore[attr-defined]
    console.progress(f"retrying execution {arn}")
    summary = target.wait(arn, console.step)
    console.execution(summary, arn.split("/execution/")[0], notes=getattr(target, "notes", ()))
    return 0 if summary.status == "Succeeded" else 1
