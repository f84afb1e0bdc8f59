"""Training step: the sagemaker-training toolkit's script-mode contract, run locally.

Config files, channels and code are laid out under the job's /opt/ml; the script runs as
``python <sagemaker_program> --name value …`` from /opt/ml/code with the SM_* environment;
after exit code 0 the model folder becomes ``<S3OutputPath>/<job>/output/model.tar.gz``.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import tarfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pipeline.core.names import utc_now
from pipeline.local import describe
from pipeline.local.container_paths import host_path, map_env, map_path
from pipeline.local.graph import StepSpec
from pipeline.local.handlers.base import StepContext, failed
from pipeline.local.handlers.jobs import failure_reason, fetch_input, job_environment, run_job
from pipeline.local.orchestrator import StepOutcome
from pipeline.local.policies import job_failure_type
from pipeline.local.sandbox import (
    SandboxError,
    check_code_paths,
    check_program_name,
    confined_files,
    program_file,
)
from pipeline.local.store.atomic import write_json
from pipeline.local.store.objects import StoreError, parse_s3_uri

HOST = "algo-1"


def run_training(spec: StepSpec, args: dict[str, Any], ctx: StepContext) -> StepOutcome:
    """Run one training job and describe it the way DescribeTrainingJob would."""
    job_name, root = ctx.job_name(spec.name), ctx.job_dir
    raw_hps = {k: str(v) for k, v in (args.get("HyperParameters") or {}).items()}
    hps = {k: _decode(v) for k, v in raw_hps.items()}
    program, code_uri = hps.get("sagemaker_program"), hps.get("sagemaker_submit_directory")
    if not isinstance(program, str) or not isinstance(code_uri, str):
        return failed("HyperParameters need sagemaker_program and sagemaker_submit_directory")
    try:  # the program's name and code paths are checked before anything is fetched
        check_program_name(program)
        check_code_paths(args.get("Environment") or {})
        channels = _lay_out(args, raw_hps, code_uri, ctx)
        program_file(program, host_path("/opt/ml/code", root))
    except SandboxError as err:
        return failed(f"training job refused: {err}", log_path=str(ctx.log_path))
    except (ValueError, StoreError, tarfile.TarError) as err:
        return failed(f"training input: {err}", log_path=str(ctx.log_path))
    user_hps = {k: v for k, v in sorted(hps.items()) if not k.startswith("sagemaker_")}
    user_args = [part for k, v in user_hps.items() for part in (f"--{k}", _arg(v))]
    env = job_environment(
        {
            **(args.get("Environment") or {}),
            **_sm_env(user_hps, user_args, channels, program, code_uri, root),
        },
        root,
    )
    metrics = _MetricCollector(args.get("AlgorithmSpecification", {}).get("MetricDefinitions"))
    argv = [sys.executable if program.endswith(".py") else "/bin/sh", program, *user_args]
    lines = metrics.tee(ctx.lines_of(spec.name))
    started = utc_now()
    run = run_job(argv, env, root / "code", ctx.log_path, lines, ctx.job_starter)
    finished = utc_now()
    if run.exit_code != 0:
        reason = failure_reason(host_path("/opt/ml/output/failure", root), run, root)
        kind = job_failure_type(run.exit_code, run.start_errno)
        return failed(reason, log_path=str(ctx.log_path), error_type=kind)
    output = parse_s3_uri(args["OutputDataConfig"]["S3OutputPath"]).child(f"{job_name}/output")
    try:
        ctx.objects.put(output.child("model.tar.gz"), _tar(host_path("/opt/ml/model", root), root))
    except (StoreError, SandboxError) as err:
        return failed(f"training output: {err}", log_path=str(ctx.log_path))
    properties = describe.training_job(
        args,
        job_name,
        ctx.arn("training-job", job_name),
        str(output.child("model.tar.gz")),
        metrics.final(),
        metrics.series,
        describe.JobTimes.until_now(ctx.created_at, started, finished),
    )
    return StepOutcome(
        "Succeeded",
        properties,
        log_path=str(ctx.log_path),
        metadata={"TrainingJobName": job_name, "metrics": metrics.last},
    )


def _lay_out(
    args: dict[str, Any], raw_hps: Mapping[str, str], code_uri: str, ctx: StepContext
) -> list[str]:
    """Config files, channel data and code under the job's /opt/ml; returns channel names."""
    root, channels = ctx.job_dir, []
    for channel in args.get("InputDataConfig") or []:
        name = channel["ChannelName"]
        uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
        fetch_input(ctx.objects, uri, f"/opt/ml/input/data/{name}", root)
        channels.append(name)
    config = host_path("/opt/ml/input/config", root)
    write_json(config / "hyperparameters.json", dict(raw_hps))
    write_json(
        config / "resourceconfig.json",
        {"current_host": HOST, "hosts": [HOST], "network_interface_name": "eth0"},
    )
    write_json(
        config / "inputdataconfig.json",
        {
            c["ChannelName"]: {
                "ContentType": c.get("ContentType", ""),
                "TrainingInputMode": "File",
                "S3DistributionType": "FullyReplicated",
                "RecordWrapperType": "None",
            }
            for c in args.get("InputDataConfig") or []
        },
    )
    for folder in ("/opt/ml/model", "/opt/ml/output/data", "/opt/ml/code"):
        host_path(folder, root).mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(ctx.objects.get(code_uri)), mode="r:gz") as tar:
        tar.extractall(host_path("/opt/ml/code", root), filter="data")
    return channels


def _sm_env(
    hps: Mapping[str, Any],
    user_args: list[str],
    channels: list[str],
    program: str,
    code_uri: str,
    root: Path,
) -> dict[str, str]:
    """The toolkit's SM_* variables, spelled with container paths and then mapped."""
    env = {
        "SM_MODEL_DIR": "/opt/ml/model",
        "SM_OUTPUT_DATA_DIR": "/opt/ml/output/data",
        "SM_OUTPUT_DIR": "/opt/ml/output",
        "SM_INPUT_DIR": "/opt/ml/input",
        "SM_INPUT_CONFIG_DIR": "/opt/ml/input/config",
        "SM_NUM_GPUS": "0",
        "SM_NUM_CPUS": str(os.cpu_count() or 1),
        "SM_HOSTS": json.dumps([HOST]),
        "SM_CURRENT_HOST": HOST,
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
        "hosts": [HOST],
        "current_host": HOST,
        "num_gpus": 0,
        "num_cpus": int(env["SM_NUM_CPUS"]),
        "user_entry_point": program,
        "module_dir": code_uri,
        "module_name": env["SM_MODULE_NAME"],
    }
    mapped = map_env(env, root)
    mapped["SM_TRAINING_ENV"] = json.dumps(_map_document(training_env, root))
    return mapped


def _map_document(value: Any, root: Path) -> Any:
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


def _tar(folder: Path, job_root: Path) -> bytes:
    """model.tar.gz of the model folder: regular files, links inside the job as content.

    A link leading out of the job's folder raises SandboxError (the step fails naming it)
    rather than putting a host file, or a link to one, into the stored model.
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, path in confined_files(folder, job_root, shown_as="/opt/ml/model"):
            tar.add(path, arcname=name, recursive=False)
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
