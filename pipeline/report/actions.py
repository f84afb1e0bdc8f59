"""The report verbs behind the CLI: --report and --compare, whatever the target.

Both go through the Target Protocol alone: the facts and data of each execution come from
``target.execution_facts`` / ``execution_data``, the default places from ``report_path`` /
``comparison_path``, and the same renderer draws the page for every target (what a target
cannot give, such as SageMaker's trained model here, the page says is missing).
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from pipeline.core.errors import ConfigError, ExecutionNotFoundError
from pipeline.core.refs import execution_id
from pipeline.local.store.atomic import file_kind
from pipeline.report.compare import Comparison
from pipeline.report.write import ReportWriter
from pipeline.report.write import write_comparison as _write_comparison
from pipeline.targets.base import Target


def resolve_execution(target: Target, pipeline_name: str, ref: str | None) -> str:
    """The execution id of ``ref`` (id or ARN), or of the newest execution when None."""
    if ref:
        return execution_id(ref)
    found = target.list_executions(pipeline_name)
    if not found:
        raise ExecutionNotFoundError(
            f"pipeline {pipeline_name} has no executions yet; run --start first"
        )
    return found[0].execution_id


def check_out_path(target: Target, out: Path | None) -> Path | None:
    """--report-out must name a regular file (or a new one) in an existing folder, outside
    what the target keeps (exit 2 before any work): a page never replaces a device, a FIFO,
    a socket or a stored object or record. A link is followed: its target is checked, and
    written."""
    if out is None:
        return None
    where = out.resolve() if out.is_symlink() else out
    if where.is_dir():
        raise ConfigError(
            f"--report-out {out} is a folder; give a file name such as {out / 'report.html'}"
        )
    if not where.parent.is_dir():
        raise ConfigError(
            f"--report-out {out}: folder {where.parent} does not exist; "
            "create it or choose another path"
        )
    with contextlib.suppress(FileNotFoundError):
        mode = os.stat(where).st_mode
        if not stat.S_ISREG(mode):
            raise ConfigError(
                f"--report-out {out} is {file_kind(mode)}, not a file; a page is written only "
                "as a regular file: choose another path"
            )
    if target.keeps_path(where):
        raise ConfigError(
            f"--report-out {out} lies inside the store, whose objects and records are never "
            "overwritten; choose a path outside it"
        )
    return where


def write_report(target: Target, pipeline_name: str, ref: str | None, out: Path | None) -> Path:
    """Write one execution's report; returns where."""
    checked = check_out_path(target, out)
    found = resolve_execution(target, pipeline_name, ref)
    target.describe_execution(ref or found)  # not found: one line, exit 2
    return ReportWriter(target).write(found, checked)


def write_comparison(
    target: Target, refs: Sequence[str], out: Path | None
) -> tuple[Comparison, Path]:
    """Compare two or more executions; returns (Comparison, path of the page)."""
    checked = check_out_path(target, out)
    ids = [execution_id(ref) for ref in refs]
    if len(set(ids)) < 2:
        raise ConfigError(
            "--compare needs at least two different executions; list them with --list-executions"
        )
    for found in ids:
        target.describe_execution(found)  # ExecutionNotFoundError for a wrong id
    return _write_comparison(target, ids, checked)
