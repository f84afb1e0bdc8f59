"""The front's services, and the hand-off from run_pipeline.py to the command table.

What a command needs from the rest of the project (config loader, builder, target maker)
arrives as one :class:`Services` argument, so tests hand in fakes instead of patching. Heavy
imports (the SageMaker SDK through pipeline.assembly.builder, boto3 through the SageMaker
target, the local engine) happen only inside the service that needs them, so ``--start`` on
the local target never loads the SDK. Each command is a module of pipeline/commands/.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.commands import Invocation, dispatch
from pipeline.commands.front import Builder, ConfigLoader, Front, TargetMaker
from pipeline.config import PipelineConfig, load_config
from pipeline.console import Console
from pipeline.core.errors import ExecutionNotFoundError, PipelineNotFoundError
from pipeline.core.records import LineListener, PipelineDefinition
from pipeline.report.background import BackgroundKeeper
from pipeline.targets import make_target
from pipeline.targets.base import Target


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


def cached_definition(cfg: PipelineConfig) -> PipelineDefinition:
    """:func:`build_definition`, answered by the checkout's build cache without the SDK when
    nothing the build read has changed (pipeline/assembly/build_cache.py)."""
    from pipeline.assembly import build_cache

    return build_cache.build_through(build_cache.default_dir(), cfg, build_definition)[0]


def _load_config(path: Path, overrides: Mapping[str, str]) -> PipelineConfig:
    return load_config(path, overrides, os.environ)


def target_for_people(cfg: PipelineConfig, on_line: LineListener | None) -> Target:
    """The config's target; a local run's page is kept by a detached, low-priority follower
    (a person's --start returns before the plots are drawn)."""
    return make_target(cfg, on_line, reports=BackgroundKeeper())


@dataclass(frozen=True)
class Services:
    """What the CLI needs from the rest of the project; the defaults are the real ones."""

    load_config: ConfigLoader = _load_config
    build_pipeline: Builder = cached_definition
    make_target: TargetMaker = target_for_people


def run(invocation: Invocation, console: Console, services: Services | None = None) -> int:
    """Carry out the parsed request; raises MoonpipeError for people."""
    services = services or Services()
    front = Front(
        invocation.settings,
        console,
        services.load_config,
        services.build_pipeline,
        services.make_target,
    )
    try:
        return dispatch(invocation.request, front)
    except (PipelineNotFoundError, ExecutionNotFoundError) as exc:
        store = console.store
        if store is None or store in str(exc):
            raise
        raise type(exc)(f"{exc} (store: {store})") from None  # which store had none
