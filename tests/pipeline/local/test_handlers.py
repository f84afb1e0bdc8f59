"""Processing and training handlers against tiny scripts that report what they saw."""

from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path
from typing import Any

from pipeline.local.graph import StepSpec
from pipeline.local.handlers.base import StepContext
from pipeline.local.handlers.hosting import create_endpoint_config, create_model
from pipeline.local.handlers.processing import run_processing
from pipeline.local.handlers.training import run_training
from pipeline.local.store.objects import ObjectStore
from pipeline.local.store.registry import Registry
from tests.pipeline.local.local_defs import LOSS_METRIC

SPY = """
import json, os, sys
out = sys.argv[sys.argv.index("--out") + 1]
os.makedirs(out, exist_ok=True)
seen = {"argv": sys.argv, "exe": sys.executable, "cwd": os.getcwd(),
        "env": {k: v for k, v in os.environ.items() if k.startswith(("SM_", "OMP", "MY"))},
        "inputs": sorted(os.listdir(out.replace("/processing/out", "/processing/data"))),
        "config": json.load(open(out.replace("/processing/out", "/config/resourceconfig.json")))}
json.dump(seen, open(os.path.join(out, "seen.json"), "w"))
"""
FAILING = """
import os, sys
print("some progress")
msg = sys.argv[1]
if msg != "-":
    open(msg, "w").write("bad input: " + "x" * 2000)
print("Traceback: boom", file=sys.stderr)
sys.exit(3)
"""


def _ctx(tmp_path: Path, lines: list[str] | None = None) -> StepContext:
    return StepContext(
        tmp_path,
        ObjectStore(tmp_path),
        "us-east-1",
        "p",
        "exec1",
        tmp_path / "jobs" / "S",
        tmp_path / "logs" / "S.log",
        endpoints=_no_endpoints,
        on_line=None if lines is None else (lambda step, line: lines.append(line)),
    )


def _no_endpoints() -> Any:
    raise AssertionError("no handler under test deploys an endpoint")


def _processing_args(script: str, arguments: list[str]) -> dict[str, Any]:
    return {
        "AppSpecification": {
            "ContainerEntrypoint": ["python3", f"/opt/ml/processing/input/code/{script}"],
            "ContainerArguments": arguments,
        },
        "Environment": {"MY_DIR": "/opt/ml/processing/out"},
        "ProcessingInputs": [
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": f"s3://b/code/{script}",
                    "LocalPath": "/opt/ml/processing/input/code",
                },
            },
            {
                "InputName": "data",
                "S3Input": {"S3Uri": "s3://b/data", "LocalPath": "/opt/ml/processing/data"},
            },
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "out",
                    "S3Output": {
                        "S3Uri": "s3://b/results/out",
                        "LocalPath": "/opt/ml/processing/out",
                    },
                }
            ]
        },
    }


def _spec(kind: str) -> StepSpec:
    return StepSpec("S", kind, {})


def test_processing_maps_paths_runs_our_python_and_uploads_outputs(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path)
    store.put("s3://b/code/spy.py", SPY.encode())
    store.put("s3://b/data/a.csv", b"1")
    store.put("s3://b/data/b.csv", b"2")
    lines: list[str] = []
    outcome = run_processing(
        _spec("Processing"),
        _processing_args("spy.py", ["--out", "/opt/ml/processing/out"]),
        _ctx(tmp_path, lines),
    )
    assert outcome.status == "Succeeded", outcome.failure_reason
    seen = json.loads(store.get("s3://b/results/out/seen.json"))
    job = tmp_path / "jobs" / "S"
    assert seen["argv"][1:] == ["--out", f"{job}/processing/out"]
    assert seen["exe"] == sys.executable
    assert seen["inputs"] == ["a.csv", "b.csv"]
    assert seen["config"] == {"current_host": "algo-1", "hosts": ["algo-1"]}
    assert seen["env"]["MY_DIR"] == f"{job}/processing/out"
    assert seen["env"]["OMP_NUM_THREADS"] == "1"
    config = json.loads((job / "config" / "processingjobconfig.json").read_text())
    assert config["ProcessingJobName"] == "pipelines-exec1-S"
    assert outcome.properties["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] == (
        "s3://b/results/out"
    )


def test_processing_failure_reason_is_the_message_file_first_kilobyte(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path)
    store.put("s3://b/code/fail.py", FAILING.encode())
    store.put("s3://b/data/a.csv", b"1")
    outcome = run_processing(
        _spec("Processing"), _processing_args("fail.py", ["/opt/ml/output/message"]), _ctx(tmp_path)
    )
    assert outcome.status == "Failed"
    assert outcome.failure_reason == "bad input: " + "x" * (1024 - len("bad input: "))
    assert not store.path("s3://b/results/out").exists()
    assert "Traceback: boom" in (tmp_path / "logs" / "S.log").read_text()


def test_processing_failure_without_message_uses_the_last_lines(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path)
    store.put("s3://b/code/fail.py", FAILING.encode())
    store.put("s3://b/data/a.csv", b"1")
    outcome = run_processing(
        _spec("Processing"), _processing_args("fail.py", ["-"]), _ctx(tmp_path)
    )
    assert outcome.failure_reason == "exit code 3; last output: some progress | Traceback: boom"


def test_processing_missing_input_fails_before_running(tmp_path: Path) -> None:
    outcome = run_processing(_spec("Processing"), _processing_args("spy.py", []), _ctx(tmp_path))
    assert outcome.failure_reason == (
        "processing input: input s3://b/code/spy.py has no objects in the local store"
    )


TRAIN = """
import json, os, sys
print("epoch=1 train_loss=0.9")
print("epoch=2 train_loss=0.4")
if os.environ.get("SM_HP_FAIL") == "true":
    open(os.path.join(os.environ["SM_OUTPUT_DIR"], "failure"), "w").write("diverged")
    sys.exit(1)
names = ["SM_MODEL_DIR", "SM_CHANNEL_TRAIN", "SM_CHANNELS", "SM_HPS", "SM_HP_HIDDEN_DIM",
         "SM_OUTPUT_DATA_DIR", "SM_NUM_GPUS", "SM_CURRENT_HOST", "SM_HOSTS", "SM_USER_ARGS",
         "SM_MODULE_DIR", "SM_TRAINING_ENV"]
seen = {"argv": sys.argv[1:], "cwd": os.getcwd(), "env": {n: os.environ[n] for n in names},
        "channel": os.listdir(os.environ["SM_CHANNEL_TRAIN"]),
        "hps": json.load(open("../input/config/hyperparameters.json")),
        "inputs": json.load(open("../input/config/inputdataconfig.json"))}
json.dump(seen, open(os.path.join(os.environ["SM_MODEL_DIR"], "seen.json"), "w"))
"""


def _training_args(**hps: str) -> dict[str, Any]:
    return {
        "AlgorithmSpecification": {"MetricDefinitions": [LOSS_METRIC]},
        "OutputDataConfig": {"S3OutputPath": "s3://b/models"},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "ContentType": "text/csv",
                "DataSource": {"S3DataSource": {"S3Uri": "s3://b/data"}},
            }
        ],
        "HyperParameters": {
            "hidden_dim": "20",
            "batch_size": "8",
            "name": '"x"',
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": '"s3://b/code/src.tar.gz"',
            **hps,
        },
    }


def _store_code(store: ObjectStore) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("train.py")
        info.size = len(TRAIN.encode())
        tar.addfile(info, io.BytesIO(TRAIN.encode()))
    store.put("s3://b/code/src.tar.gz", buffer.getvalue())
    store.put("s3://b/data/train.csv", b"1,2\n")


def test_training_follows_the_toolkit_contract(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path)
    _store_code(store)
    outcome = run_training(_spec("Training"), _training_args(), _ctx(tmp_path))
    assert outcome.status == "Succeeded", outcome.failure_reason
    uri = outcome.properties["ModelArtifacts"]["S3ModelArtifacts"]
    assert uri == "s3://b/models/pipelines-exec1-S/output/model.tar.gz"
    with tarfile.open(fileobj=io.BytesIO(store.get(uri))) as tar:
        seen = json.load(tar.extractfile("seen.json"))  # type: ignore[arg-type]
    job = tmp_path / "jobs" / "S"
    assert seen["argv"] == ["--batch_size", "8", "--hidden_dim", "20", "--name", "x"]
    assert seen["cwd"] == str(job / "code")
    env = seen["env"]
    assert env["SM_MODEL_DIR"] == f"{job}/model"
    assert env["SM_CHANNEL_TRAIN"] == f"{job}/input/data/train"
    assert env["SM_OUTPUT_DATA_DIR"] == f"{job}/output/data"
    assert json.loads(env["SM_CHANNELS"]) == ["train"]
    assert json.loads(env["SM_HPS"]) == {"batch_size": 8, "hidden_dim": 20, "name": "x"}
    assert env["SM_HP_HIDDEN_DIM"] == "20" and env["SM_NUM_GPUS"] == "0"
    assert json.loads(env["SM_USER_ARGS"]) == seen["argv"]
    assert env["SM_MODULE_DIR"] == "s3://b/code/src.tar.gz"
    assert json.loads(env["SM_TRAINING_ENV"])["model_dir"] == f"{job}/model"
    assert seen["channel"] == ["train.csv"]
    assert seen["hps"]["sagemaker_program"] == '"train.py"'
    assert seen["inputs"]["train"]["ContentType"] == "text/csv"
    assert outcome.properties["FinalMetricDataList"][0]["MetricName"] == "train:loss"
    assert outcome.properties["FinalMetricDataList"][0]["Value"] == 0.4


def test_training_failure_file_is_the_reason(tmp_path: Path) -> None:
    _store_code(ObjectStore(tmp_path))
    outcome = run_training(_spec("Training"), _training_args(fail="true"), _ctx(tmp_path))
    assert (outcome.status, outcome.failure_reason) == ("Failed", "diverged")


def test_training_refuses_a_tarball_that_escapes(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("../evil.py")
        tar.addfile(info, io.BytesIO(b""))
    store.put("s3://b/code/src.tar.gz", buffer.getvalue())
    store.put("s3://b/data/train.csv", b"1,2\n")
    outcome = run_training(_spec("Training"), _training_args(), _ctx(tmp_path))
    assert outcome.status == "Failed"
    assert outcome.failure_reason == (
        f"training input: '../evil.py' would be extracted to '{tmp_path}/jobs/S/evil.py', "
        "which is outside the destination"
    )
    assert not (tmp_path / "jobs" / "S" / "evil.py").exists()


def test_generated_job_names_are_valid_sagemaker_names(tmp_path: Path) -> None:
    """A step name may hold "_"; the job or model name made from it may not."""
    ctx = _ctx(tmp_path)
    assert ctx.job_name("Create_Model-Step") == "pipelines-exec1-Create-Model-Step"
    assert ctx.job_name("S" * 80) == f"pipelines-exec1-{'S' * 47}"
    assert ctx.job_name(f"{'S' * 46}_x") == f"pipelines-exec1-{'S' * 46}"


def test_training_records_every_metric_match_as_a_series_and_the_last_as_final(
    tmp_path: Path,
) -> None:
    _store_code(ObjectStore(tmp_path))
    args = _training_args()
    args["AlgorithmSpecification"]["MetricDefinitions"] = [
        LOSS_METRIC,
        {"Name": "epoch", "Regex": r"epoch=(\d+)"},
    ]
    outcome = run_training(_spec("Training"), args, _ctx(tmp_path))
    assert outcome.status == "Succeeded", outcome.failure_reason
    assert outcome.properties["MetricSeries"] == {"train:loss": [0.9, 0.4], "epoch": [1.0, 2.0]}
    final = {m["MetricName"]: m["Value"] for m in outcome.properties["FinalMetricDataList"]}
    assert final == {"train:loss": 0.4, "epoch": 2.0}


def test_metric_collector_skips_captures_that_are_not_numbers() -> None:
    from pipeline.local.handlers.training import _MetricCollector

    collector = _MetricCollector([{"Name": "loss", "Regex": "loss=(\\S+)"}])
    for line in ("loss=0.5", "loss=nan-ish", "no metric here", "loss=0.25"):
        collector.feed(line)
    assert collector.series == {"loss": [0.5, 0.25]}
    assert [m["Value"] for m in collector.final()] == [0.25]


def test_model_and_endpoint_config_steps_name_their_record_and_never_replace_one(
    tmp_path: Path,
) -> None:
    """CreateModel / CreateEndpointConfig: the metadata names the stored record; a name that
    is taken fails the step with the registry's reason and leaves the first record alone."""
    registry = Registry(tmp_path, "us-east-1")
    model_args = {"ModelName": "m1", "PrimaryContainer": {"Image": "img"}}
    config_args = {"ProductionVariants": [{"VariantName": "v", "ModelName": "m1"}]}
    for make, args, key, name, stored in (
        (create_model, model_args, "ModelName", "m1", registry.model),
        (
            create_endpoint_config,
            config_args,
            "EndpointConfigName",
            "Cfg-exec1",
            registry.endpoint_config,
        ),
    ):
        first = make(StepSpec("Cfg", "X", {}), args, _ctx(tmp_path))
        assert (first.status, first.metadata) == ("Succeeded", {key: name})
        again = make(StepSpec("Cfg", "X", {}), {**args, "Tags": []}, _ctx(tmp_path))
        assert again.status == "Failed"
        assert again.failure_reason == f"{name} already exists; it is never replaced"
        assert stored(name) == first.properties and "Tags" not in stored(name)
