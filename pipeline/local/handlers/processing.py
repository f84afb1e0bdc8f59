"""Processing step: the CreateProcessingJob contract, run as local processes.

Inputs are copied to their LocalPath before the script starts; the config files a real
container has are written; outputs are uploaded to their S3Uri only after exit code 0. Each
instance (ClusterConfig.InstanceCount) is a host of its own with its own /opt/ml; their
outputs go to the same S3Uri, as on SageMaker. The command must run a script from the job's
own folder, and outputs are read without following links out of it (pipeline/local/sandbox.py).
A FrameworkProcessor's requirements.txt becomes a layer on PYTHONPATH
(pipeline/local/runtime/layers.py), so its runproc.sh's own pip finds everything installed.
"""

from __future__ import annotations

import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.core.names import utc_now
from pipeline.local import describe
from pipeline.local.container_paths import CONTAINER_ROOT, host_path
from pipeline.local.graph import StepSpec
from pipeline.local.handlers.base import StepContext, failed
from pipeline.local.handlers.jobs import (
    JobCommand,
    failure_reason,
    fetch_input,
    private_folder,
    run_job,
)
from pipeline.local.orchestrator import StepOutcome
from pipeline.local.policies import job_failure_type
from pipeline.local.runtime.hosts import Host, instance_count, job_hosts, resource_config
from pipeline.local.runtime.layers import LayerError, layer_for, requirements_in_sourcedir
from pipeline.local.runtime.limits import Limit, over_limit_reason, processing_status
from pipeline.local.runtime.mode import JobRuntime
from pipeline.local.sandbox import (
    SandboxError,
    check_code_paths,
    check_command,
    confined_files,
)
from pipeline.local.store.atomic import write_json
from pipeline.local.store.objects import S3Uri, StoreError, parse_s3_uri

SOURCE_ARCHIVE = "sourcedir.tar.gz"  # FrameworkProcessor's code input


def run_processing(spec: StepSpec, args: dict[str, Any], ctx: StepContext) -> StepOutcome:
    """Run one processing job and describe it the way DescribeProcessingJob would."""
    job_name = ctx.job_name(spec.name)
    runtime: JobRuntime = ctx.job_starter or JobRuntime(ctx.store_root)
    log = str(ctx.log_path)
    cluster = (args.get("ProcessingResources") or {}).get("ClusterConfig")
    hosts = job_hosts(private_folder(ctx.job_dir), instance_count(cluster))
    request = {**args, "ProcessingJobName": job_name}
    try:
        for host in hosts:
            _lay_out(args, request, host, hosts, ctx)
    except (ValueError, StoreError) as err:
        return failed(f"processing input: {err}", log_path=log)
    app = args.get("AppSpecification", {})
    container_argv = [*app.get("ContainerEntrypoint", []), *app.get("ContainerArguments", [])]
    try:
        check_command(container_argv, hosts[0].root)
        check_code_paths(args.get("Environment") or {})
        layer = _requirements_layer(args, hosts[0].root, runtime)
    except (SandboxError, LayerError) as err:
        return failed(str(err), log_path=log)
    notes: list[str] = []  # the runtime's notes, gathered while the job runs
    env = dict(args.get("Environment") or {})
    job = JobCommand(container_argv, env, CONTAINER_ROOT, app.get("ImageUri"))
    limit = Limit.of(args.get("StoppingCondition"), runtime.grace_s)
    isolated = bool((args.get("NetworkConfig") or {}).get("EnableNetworkIsolation"))
    started = utc_now()
    run = run_job(
        [(host, job) for host in hosts],
        ctx.log_path,
        runtime,
        ctx.lines_of(spec.name),
        network=not isolated,
        limit=limit,
        layer=layer,
        meanwhile=lambda: notes.extend(runtime.job_notes(app.get("ImageUri"))),
    )
    finished = utc_now()
    metadata: dict[str, Any] = {"ProcessingJobName": job_name}
    if notes:
        metadata["RuntimeNotes"] = notes
    properties = {**request, "ProcessingJobArn": ctx.arn("processing-job", job_name)}
    if run.over_limit:
        stopped = {**properties, **processing_status(True, run.exit_code, None)}
        reason = over_limit_reason("Processing", job_name, limit)
        return failed(reason, log_path=log, properties=stopped, metadata=metadata)
    if run.exit_code != 0:
        root = hosts[run.host].root
        reason = failure_reason(host_path("/opt/ml/output/message", root), run, root)
        kind = job_failure_type(run.exit_code, run.start_errno)
        return failed(reason, log_path=log, metadata=metadata, error_type=kind)
    try:
        _upload_outputs(args, hosts, ctx)
    except (ValueError, StoreError) as err:
        return failed(f"processing output: {err}", log_path=log, metadata=metadata)
    times = describe.JobTimes.until_now(ctx.created_at, started, finished)
    properties = describe.processing_job(request, job_name, properties["ProcessingJobArn"], times)
    return StepOutcome("Succeeded", properties, log_path=log, metadata=metadata)


def _lay_out(
    args: dict[str, Any],
    request: dict[str, Any],
    host: Host,
    hosts: Sequence[Host],
    ctx: StepContext,
) -> None:
    """One host's /opt/ml: its inputs (or its shard of each), the config files, output/."""
    private_folder(host.root)
    for item in args.get("ProcessingInputs") or []:
        s3 = item.get("S3Input")
        if s3 is None:
            raise ValueError(f"input {item.get('InputName')}: only S3Input is supported locally")
        distribution = s3.get("S3DataDistributionType")
        fetch_input(ctx.objects, s3["S3Uri"], s3["LocalPath"], host, hosts, distribution)
    config = host_path("/opt/ml/config", host.root)
    write_json(config / "processingjobconfig.json", request, durable=False)
    write_json(
        config / "resourceconfig.json", resource_config(host, hosts, training=False), durable=False
    )
    host_path("/opt/ml/output", host.root).mkdir(parents=True, exist_ok=True)


def _requirements_layer(args: dict[str, Any], root: Path, runtime: JobRuntime) -> Path | None:
    """The layer for a FrameworkProcessor's requirements.txt (in the sourcedir.tar.gz of one
    of its inputs), built once per content; None when there is none."""
    for item in args.get("ProcessingInputs") or []:
        local = (item.get("S3Input") or {}).get("LocalPath")
        if not isinstance(local, str):
            continue
        archive = host_path(local, root) / SOURCE_ARCHIVE
        if not archive.is_file():
            continue
        try:
            requirements = requirements_in_sourcedir(archive)
        except (tarfile.TarError, OSError) as err:
            raise LayerError(f"{local}/{SOURCE_ARCHIVE}: not a readable archive ({err})") from None
        if requirements is not None:
            return layer_for(requirements, runtime.layer_cache())
    return None


def _upload_outputs(args: dict[str, Any], hosts: Sequence[Host], ctx: StepContext) -> None:
    """Check every output of every host (URI, files, links) first, then store: a refusal
    stores nothing. Hosts write to the same S3Uri, as their instances do on SageMaker."""
    planned: list[tuple[S3Uri, list[tuple[str, Path]]]] = []
    for item in (args.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
        s3 = item.get("S3Output")
        if s3 is None:
            raise ValueError(f"output {item.get('OutputName')}: only S3Output is supported locally")
        prefix = parse_s3_uri(s3["S3Uri"])
        for host in hosts:
            source = host_path(s3["LocalPath"], host.root)
            files = confined_files(source, host.root, shown_as=s3["LocalPath"])
            planned.append((prefix, files))
    for prefix, files in planned:
        ctx.objects.put_files(prefix, files)
