"""The report verbs behind the CLI: --report and --compare, whatever the target.

The local target reads its store; the SageMaker target reads the Describe/List APIs and S3
(pipeline.report.aws_source). --compare is local only for now and says so in one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.core.errors import ConfigError, ExecutionNotFoundError


def resolve_execution(target: Any, pipeline_name: str, ref: str | None) -> str:
    """The execution id of ``ref`` (id or ARN), or of the newest execution when None."""
    if ref:
        return ref.rstrip("/").rsplit("/", 1)[-1]
    found = target.list_executions(pipeline_name)
    if not found:
        raise ExecutionNotFoundError(
            f"pipeline {pipeline_name} has no executions yet; run --start first"
        )
    return found[0].execution_id


def check_out_path(out: Path | None) -> Path | None:
    """--report-out must name a file in an existing folder (exit 2 before any work)."""
    if out is None:
        return None
    if out.is_dir():
        raise ConfigError(
            f"--report-out {out} is a folder; give a file name such as {out / 'report.html'}"
        )
    if not out.parent.is_dir():
        raise ConfigError(
            f"--report-out {out}: folder {out.parent} does not exist; "
            "create it or choose another path"
        )
    return out


def write_report(target: Any, pipeline_name: str, ref: str | None, out: Path | None) -> Path:
    """Write one execution's report; returns where."""
    checked = check_out_path(out)
    execution_id = resolve_execution(target, pipeline_name, ref)
    summary = target.describe_execution(ref or execution_id)  # not found: one line, exit 2
    if getattr(target, "name", None) == "sagemaker":
        from pipeline.report.write import write_aws_report

        where = checked or Path.cwd() / f"moonpipe-report-{summary.execution_id}.html"
        return write_aws_report(target._sm, target._s3, summary.execution_arn, where)
    store_root = _local_store(target, "--report")
    from pipeline.report.write import write_local_report

    return write_local_report(store_root, execution_id, checked)


def write_comparison(target: Any, refs: list[str], out: Path | None) -> tuple[Any, Path]:
    """Compare two or more executions; returns (Comparison, path of the page)."""
    checked = check_out_path(out)
    store_root = _local_store(target, "--compare")
    ids = [resolve_execution(target, "", ref) for ref in refs]
    if len(set(ids)) < 2:
        raise ConfigError(
            "--compare needs at least two different executions; list them with --list-executions"
        )
    for execution_id in ids:
        target.describe_execution(execution_id)  # ExecutionNotFoundError for a wrong id
    from pipeline.report.write import write_local_comparison

    return write_local_comparison(store_root, ids, checked)


def _local_store(target: Any, flag: str) -> Path:
    if getattr(target, "name", None) != "local":
        raise ConfigError(
            f"{flag} works on the local target only for now; comparing "
            "SageMaker executions is not built yet — use --report on each"
        )
    return Path(target.store_root)
