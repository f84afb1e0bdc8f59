"""Training step: the sagemaker-training toolkit's script-mode contract, run locally.

Config files, channels and code are laid out under each host's /opt/ml (one host per
ResourceConfig.InstanceCount); the script runs as ``python <sagemaker_program> --name value …``
(a shell command entry point, such as the SDK repack step's launcher, as ``/bin/sh PROGRAM``)
from /opt/ml/code with the SM_* environment, a requirements.txt in the code as a layer on
PYTHONPATH. After the job, /opt/ml/model of every host becomes
``<S3OutputPath>/<job>/output/model.tar.gz`` and /opt/ml/output/data ``output.tar.gz`` beside
it ("SageMaker aggregates the result in a TAR file", "How Amazon SageMaker Processes Training
Output"); a job stopped at MaxRuntimeInSeconds keeps both, as on SageMaker.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import tarfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pipeline.core.names import utc_now
from pipeline.local import describe
from pipeline.local.container_paths import host_path, map_path
from pipeline.local.graph import StepSpec
from pipeline.local.handlers.base import StepContext, failed
from pipeline.local.handlers.jobs import (
    JobCommand,
    JobRun,
    failure_reason,
    fetch_input,
    private_folder,
    run_job,
)
from pipeline.local.orchestrator import StepOutcome
from pipeline.local.policies import job_failure_type
from pipeline.local.runtime.hosts import Host, instance_count, job_hosts, resource_config
from pipeline.local.runtime.layers import LayerError, layer_for
from pipeline.local.runtime.limits import Limit, over_limit_reason, training_status
from pipeline.local.runtime.mode import JobRuntime
from pipeline.local.sandbox import (
    SandboxError,
    check_code_paths,
    check_program_name,
    confined_files,
    program_file,
)
from pipeline.local.store.atomic import write_json
from pipeline.local.store.objects import StoreError, parse_s3_uri

CODE_DIR = "/opt/ml/code"
DATA_DIR = "/opt/ml/output/data"


def run_training(spec: StepSpec, args: dict[str, Any], ctx: StepContext) -> StepOutcome:
    """Run one training job and describe it the way DescribeTrainingJob would."""
    job_name, log = ctx.job_name(spec.name), str(ctx.log_path)
    runtime: JobRuntime = ctx.job_starter or JobRuntime(ctx.store_root)
    raw_hps = {k: str(v) for k, v in (args.get("HyperParameters") or {}).items()}
    hps = {k: _decode(v) for k, v in raw_hps.items()}
    program, code_uri = hps.get("sagemaker_program"), hps.get("sagemaker_submit_directory")
    if not isinstance(program, str) or not isinstance(code_uri, str):
        return failed("HyperParameters need sagemaker_program and sagemaker_submit_directory")
    hosts = job_hosts(private_folder(ctx.job_dir), instance_count(args.get("ResourceConfig")))
    try:  # the program's name and code paths are checked before anything is fetched
        check_program_name(program)
        check_code_paths(args.get("Environment") or {})
        channels = [_lay_out(args, raw_hps, code_uri, host, hosts, ctx) for host in hosts]
        program_file(program, host_path(CODE_DIR, hosts[0].root))
        layer = _requirements_layer(hosts[0].root, runtime)
    except SandboxError as err:
        return failed(f"training job refused: {err}", log_path=log)
    except LayerError as err:
        return failed(str(err), log_path=log)
    except (ValueError, StoreError, tarfile.TarError) as err:
        return failed(f"training input: {err}", log_path=log)
    image = args.get("AlgorithmSpecification", {}).get("TrainingImage")
    notes: list[str] = []  # the runtime's notes, gathered while the job runs
    user_hps = {k: v for k, v in sorted(hps.items()) if not k.startswith("sagemaker_")}
    user_args = [part for k, v in user_hps.items() for part in (f"--{k}", _arg(v))]
    interpreter = sys.executable if program.endswith(".py") else "/bin/sh"
    argv = [interpreter, program, *user_args]
    jobs = []
    for host in hosts:
        onto = None if runtime.namespaces else host.root
        sm_env = _sm_env(user_hps, user_args, channels[0], program, code_uri, host, hosts, onto)
        jobs.append(
            (host, JobCommand(argv, {**(args.get("Environment") or {}), **sm_env}, CODE_DIR, image))
        )
    metrics = _MetricCollector(args.get("AlgorithmSpecification", {}).get("MetricDefinitions"))
    limit = Limit.of(args.get("StoppingCondition"), runtime.grace_s)
    started = utc_now()
    run = run_job(
        jobs,
        ctx.log_path,
        runtime,
        metrics.tee(ctx.lines_of(spec.name)),
        network=not args.get("EnableNetworkIsolation"),
        limit=limit,
        layer=layer,
        meanwhile=lambda: notes.extend(runtime.job_notes(image)),
    )
    finished = utc_now()
    metadata: dict[str, Any] = {"TrainingJobName": job_name, "metrics": metrics.last}
    if notes:
        metadata["RuntimeNotes"] = notes
    if run.exit_code != 0 and not run.over_limit:
        kind = job_failure_type(run.exit_code, run.start_errno)
        return failed(_reason(run, hosts), log_path=log, metadata=metadata, error_type=kind)
    output = parse_s3_uri(args["OutputDataConfig"]["S3OutputPath"]).child(f"{job_name}/output")
    try:
        for name, folder in (("model.tar.gz", "/opt/ml/model"), ("output.tar.gz", DATA_DIR)):
            ctx.objects.put(output.child(name), _tar(hosts, folder))
    except (StoreError, SandboxError) as err:
        return failed(f"training output: {err}", log_path=log, metadata=metadata)
    described = describe.training_job(
        args,
        job_name,
        ctx.arn("training-job", job_name),
        str(output.child("model.tar.gz")),
        metrics.final(),
        metrics.series,
        describe.JobTimes.until_now(ctx.created_at, started, finished),
    )
    properties = {**described, **training_status(run.over_limit, run.exit_code, None)}
    if run.over_limit:
        reason = over_limit_reason("Training", job_name, limit)
        return failed(reason, log_path=log, properties=properties, metadata=metadata)
    return StepOutcome("Succeeded", properties, log_path=log, metadata=metadata)


def _reason(run: JobRun, hosts: Sequence[Host]) -> str:
    root = hosts[run.host].root
    return failure_reason(host_path("/opt/ml/output/failure", root), run, root)


def _lay_out(
    args: dict[str, Any],
    raw_hps: Mapping[str, str],
    code_uri: str,
    host: Host,
    hosts: Sequence[Host],
    ctx: StepContext,
) -> list[str]:
    """Config files, channel data and code under the host's /opt/ml; returns channel names."""
    root, channels = private_folder(host.root), []
    for channel in args.get("InputDataConfig") or []:
        name = channel["ChannelName"]
        source = channel["DataSource"]["S3DataSource"]
        distribution = source.get("S3DataDistributionType")
        fetch_input(
            ctx.objects, source["S3Uri"], f"/opt/ml/input/data/{name}", host, hosts, distribution
        )
        channels.append(name)
    config = host_path("/opt/ml/input/config", root)
    # The job's own files, written anew for every attempt: no fsync (write_bytes).
    write_json(config / "hyperparameters.json", dict(raw_hps), durable=False)
    resources = resource_config(host, hosts, training=True)
    write_json(config / "resourceconfig.json", resources, durable=False)
    write_json(
        config / "inputdataconfig.json",
        {
            c["ChannelName"]: {
                "ContentType": c.get("ContentType", ""),
                "TrainingInputMode": "File",
                "S3DistributionType": c["DataSource"]["S3DataSource"].get(
                    "S3DataDistributionType", "FullyReplicated"
                ),
                "RecordWrapperType": "None",
            }
            for c in args.get("InputDataConfig") or []
        },
        durable=False,
    )
    for folder in ("/opt/ml/model", DATA_DIR, CODE_DIR):
        host_path(folder, root).mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(ctx.objects.get(code_uri)), mode="r:gz") as tar:
        tar.extractall(host_path(CODE_DIR, root), filter="data")
    return channels


def _requirements_layer(root: Path, runtime: JobRuntime) -> Path | None:
    """The toolkit installs /opt/ml/code/requirements.txt before the script: as a layer."""
    requirements = host_path(f"{CODE_DIR}/requirements.txt", root)
    if not requirements.is_file() or requirements.is_symlink():
        return None
    return layer_for(requirements.read_bytes(), runtime.layer_cache())


def _sm_env(
    hps: Mapping[str, Any],
    user_args: list[str],
    channels: list[str],
    program: str,
    code_uri: str,
    host: Host,
    hosts: Sequence[Host],
    mapped_onto: Path | None,
) -> dict[str, str]:
    """The toolkit's SM_* variables for one host, with container paths (mapped onto
    ``mapped_onto`` in the fallback, SM_TRAINING_ENV's JSON included)."""
    names = [h.name for h in hosts]
    env = {
        "SM_MODEL_DIR": "/opt/ml/model",
        "SM_OUTPUT_DATA_DIR": DATA_DIR,
        "SM_OUTPUT_DIR": "/opt/ml/output",
        "SM_INPUT_DIR": "/opt/ml/input",
        "SM_INPUT_CONFIG_DIR": "/opt/ml/input/config",
        "SM_NUM_GPUS": "0",
        "SM_NUM_CPUS": str(os.cpu_count() or 1),
        "SM_HOSTS": json.dumps(names),
        "SM_CURRENT_HOST": host.name,
        "SM_CHANNELS": json.dumps(sorted(channels)),
        "SM_HPS": json.dumps(dict(hps)),
        "SM_USER_ARGS": json.dumps(user_args),
        "SM_MODULE_DIR": code_uri,
        "SM_USER_ENTRY_POINT": program,
        "SM_MODULE_NAME": program.rsplit(".", 1)[0],
    }
    env.update({f"SM_CHANNEL_{c.upper()}": f"/opt/ml/input/data/{c}" for c in channels})
    env.update(
        {f"SM_HP_{k.upper()}": v if isinstance(v, str) else json.dumps(v) for k, v in hps.items()}
    )
    training_env = {
        "model_dir": env["SM_MODEL_DIR"],
        "output_data_dir": env["SM_OUTPUT_DATA_DIR"],
        "output_dir": env["SM_OUTPUT_DIR"],
        "input_dir": env["SM_INPUT_DIR"],
        "channel_input_dirs": {c: f"/opt/ml/input/data/{c}" for c in channels},
        "hyperparameters": dict(hps),
        "hosts": names,
        "current_host": host.name,
        "num_gpus": 0,
        "num_cpus": int(env["SM_NUM_CPUS"]),
        "user_entry_point": program,
        "module_dir": code_uri,
        "module_name": env["SM_MODULE_NAME"],
    }
    env["SM_TRAINING_ENV"] = json.dumps(_map_document(training_env, mapped_onto))
    return env


def _map_document(value: Any, root: Path | None) -> Any:
    if root is None:
        return value
    if isinstance(value, str):
        return map_path(value, root)
    if isinstance(value, dict):
        return {k: _map_document(v, root) for k, v in value.items()}
    return value


def _decode(value: str) -> Any:
    """The toolkit JSON-decodes each hyperparameter, keeping undecodable ones as text."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def _arg(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _tar(hosts: Sequence[Host], folder: str) -> bytes:
    """A tar.gz of ``folder`` (a container path) of every host: regular files, links inside
    the host's folder as content; a name two hosts both wrote is taken from the first.

    A link leading out of the host's folder raises SandboxError (the step fails naming it)
    rather than putting a host file, or a link to one, into the stored archive.
    """
    found: dict[str, Path] = {}
    for host in hosts:
        for name, path in confined_files(host_path(folder, host.root), host.root, folder):
            found.setdefault(name, path)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in sorted(found, key=lambda n: n.split("/")):
            tar.add(found[name], arcname=name, recursive=False)
    return buffer.getvalue()


class _MetricCollector:
    """Applies MetricDefinitions regexes to log lines, as SageMaker does with a job's log.

    Every match is kept in order (SageMaker publishes each to CloudWatch: the per-epoch
    series Studio charts); the last value of each metric becomes FinalMetricDataList.
    """

    def __init__(self, definitions: list[dict[str, str]] | None) -> None:
        self.patterns = [(d["Name"], re.compile(d["Regex"])) for d in definitions or []]
        self.series: dict[str, list[float]] = {}
        self.seen_at: dict[str, str] = {}

    @property
    def last(self) -> dict[str, float]:
        """Each metric's latest value."""
        return {name: values[-1] for name, values in self.series.items()}

    def feed(self, line: str) -> None:
        for name, pattern in self.patterns:
            match = pattern.search(line)
            if match:
                try:
                    value = float(match.group(1) if match.groups() else match.group(0))
                except ValueError:
                    continue
                self.series.setdefault(name, []).append(value)
                self.seen_at[name] = utc_now().isoformat()

    def tee(self, forward: Callable[[str], None] | None) -> Callable[[str], None]:
        """A line callback that feeds the metrics, then forwards the line (if anyone listens)."""

        def on_line(line: str) -> None:
            self.feed(line)
            if forward is not None:
                forward(line)

        return on_line

    def final(self) -> list[dict[str, Any]]:
        """DescribeTrainingJob's FinalMetricDataList: the last value seen of each metric."""
        return [
            {"MetricName": k, "Value": v, "Timestamp": self.seen_at[k]}
            for k, v in self.last.items()
        ]
