"""Processing step: the CreateProcessingJob contract, run as a local subprocess.

Inputs are copied to their LocalPath before the script starts; the config files a real
container has are written; outputs are uploaded to their S3Uri only after exit code 0.
The command must run a script from the job's own folder, and outputs are read without
following links out of it (pipeline/local/sandbox.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.core.names import utc_now
from pipeline.local import describe
from pipeline.local.container_paths import host_path
from pipeline.local.graph import StepSpec
from pipeline.local.handlers.base import StepContext, failed
from pipeline.local.handlers.jobs import (
    command,
    failure_reason,
    fetch_input,
    job_environment,
    run_job,
)
from pipeline.local.orchestrator import StepOutcome
from pipeline.local.policies import job_failure_type
from pipeline.local.sandbox import (
    SandboxError,
    check_code_paths,
    check_command,
    confined_files,
)
from pipeline.local.store.atomic import write_json
from pipeline.local.store.objects import S3Uri, StoreError, parse_s3_uri

RESOURCE_CONFIG = {"current_host": "algo-1", "hosts": ["algo-1"]}


def run_processing(spec: StepSpec, args: dict[str, Any], ctx: StepContext) -> StepOutcome:
    """Run one processing job and describe it the way DescribeProcessingJob would."""
    job_name = ctx.job_name(spec.name)
    root = ctx.job_dir
    try:
        _fetch_inputs(args, ctx)
    except (ValueError, StoreError) as err:
        return failed(f"processing input: {err}", log_path=str(ctx.log_path))
    request = {**args, "ProcessingJobName": job_name}
    write_json(host_path("/opt/ml/config/processingjobconfig.json", root), request)
    write_json(host_path("/opt/ml/config/resourceconfig.json", root), RESOURCE_CONFIG)
    host_path("/opt/ml/output", root).mkdir(parents=True, exist_ok=True)
    app = args.get("AppSpecification", {})
    container_argv = [*app.get("ContainerEntrypoint", []), *app.get("ContainerArguments", [])]
    try:
        check_command(container_argv, root)
        check_code_paths(args.get("Environment") or {})
    except SandboxError as err:
        return failed(str(err), log_path=str(ctx.log_path))
    argv = command(container_argv, root)
    env = job_environment(args.get("Environment") or {}, root)
    started = utc_now()
    run = run_job(argv, env, root, ctx.log_path, ctx.lines_of(spec.name), ctx.job_starter)
    finished = utc_now()
    if run.exit_code != 0:
        reason = failure_reason(host_path("/opt/ml/output/message", root), run, root)
        kind = job_failure_type(run.exit_code, run.start_errno)
        return failed(reason, log_path=str(ctx.log_path), error_type=kind)
    try:
        _upload_outputs(args, ctx)
    except (ValueError, StoreError) as err:
        return failed(f"processing output: {err}", log_path=str(ctx.log_path))
    times = describe.JobTimes.until_now(ctx.created_at, started, finished)
    arn = ctx.arn("processing-job", job_name)
    properties = describe.processing_job(request, job_name, arn, times)
    return StepOutcome(
        "Succeeded",
        properties,
        log_path=str(ctx.log_path),
        metadata={"ProcessingJobName": job_name},
    )


def _fetch_inputs(args: dict[str, Any], ctx: StepContext) -> None:
    for item in args.get("ProcessingInputs") or []:
        s3 = item.get("S3Input")
        if s3 is None:
            raise ValueError(f"input {item.get('InputName')}: only S3Input is supported locally")
        fetch_input(ctx.objects, s3["S3Uri"], s3["LocalPath"], ctx.job_dir)


def _upload_outputs(args: dict[str, Any], ctx: StepContext) -> None:
    """Check every output (URI, files, links) first, then store: a refusal stores nothing."""
    planned: list[tuple[S3Uri, list[tuple[str, Path]]]] = []
    for item in (args.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
        s3 = item.get("S3Output")
        if s3 is None:
            raise ValueError(f"output {item.get('OutputName')}: only S3Output is supported locally")
        source = host_path(s3["LocalPath"], ctx.job_dir)
        files = confined_files(source, ctx.job_dir, shown_as=s3["LocalPath"])
        planned.append((parse_s3_uri(s3["S3Uri"]), files))
    for prefix, files in planned:
        ctx.objects.put_files(prefix, files)
