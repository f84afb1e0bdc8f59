"""Each escape a crafted definition could try, through the processing and training handlers.

The host script, the secret and the caller's environment stand for what a job must never
reach: a script elsewhere on this machine, ~/.aws/credentials, the caller's AWS_* settings.
"""

from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from pipeline.local.handlers.processing import run_processing
from pipeline.local.handlers.training import run_training
from pipeline.local.store.objects import ObjectStore
from tests.pipeline.local.engine import local_runner
from tests.pipeline.local.local_defs import full_definition, pipeline
from tests.pipeline.local.test_handlers import (
    SPY,
    _ctx,
    _processing_args,
    _spec,
    _store_code,
    _training_args,
)

MARKER = """
import pathlib, sys
pathlib.Path(sys.argv[0]).with_name("ran").write_text("host code ran")
"""
ENV_DUMP = """
import json, os
out = os.environ.get("SM_MODEL_DIR") or os.environ["OUT"]
os.makedirs(out, exist_ok=True)
print(sorted(os.environ))
json.dump(dict(os.environ), open(os.path.join(out, "env.json"), "w"))
"""
LINK_OUT = """
import os, sys
out = os.environ.get("SM_MODEL_DIR") or os.environ["OUT"]
os.makedirs(out, exist_ok=True)
open(os.path.join(out, "result.csv"), "w").write("1")
os.symlink(os.environ["SECRET"], os.path.join(out, "creds.txt"))
if os.environ.get("MESSAGE"):
    os.symlink(os.environ["SECRET"], os.environ["MESSAGE"])
    sys.exit(1)
"""


@pytest.fixture
def host_script(tmp_path: Path) -> Path:
    """A script outside every job folder that leaves a file beside itself if it ever runs."""
    script = tmp_path / "host" / "evil.py"
    script.parent.mkdir()
    script.write_text(MARKER)
    return script


def _store_script(store: ObjectStore, name: str, text: str) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(text.encode())
        tar.addfile(info, io.BytesIO(text.encode()))
    store.put("s3://b/code/src.tar.gz", buffer.getvalue())
    store.put("s3://b/data/train.csv", b"1,2\n")
    store.put(f"s3://b/code/{name}", text.encode())


@pytest.mark.parametrize("relative", [False, True])
def test_training_program_outside_the_code_folder_never_runs(
    tmp_path: Path, host_script: Path, relative: bool
) -> None:
    _store_code(ObjectStore(tmp_path))
    program = "../../../host/evil.py" if relative else str(host_script)
    outcome = run_training(
        _spec("Training"), _training_args(sagemaker_program=json.dumps(program)), _ctx(tmp_path)
    )
    assert outcome.status == "Failed"
    why = "climbs out of /opt/ml/code with '..'" if relative else "is an absolute path"
    assert outcome.failure_reason == (
        f"training job refused: sagemaker_program {program!r} {why}; name a script inside "
        "the source directory, e.g. 'train.py'"
    )
    assert not (host_script.parent / "ran").exists()
    assert not (tmp_path / "jobs" / "S" / "input").exists()  # refused before fetching


@pytest.mark.parametrize(
    ("kind", "target", "reason"),
    [
        (tarfile.SYMTYPE, "{host}", "'train.py' is a link to an absolute path"),
        (
            tarfile.SYMTYPE,
            "../../../host/evil.py",
            "'train.py' would link to '{tmp}/host/evil.py', which is outside the destination",
        ),
        (tarfile.LNKTYPE, "{host}", "'train.py' is a link to an absolute path"),
    ],
)
def test_source_archive_linking_out_of_the_code_folder_is_refused(
    tmp_path: Path, host_script: Path, kind: bytes, target: str, reason: str
) -> None:
    store = ObjectStore(tmp_path)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        link = tarfile.TarInfo("train.py")
        link.type, link.linkname = kind, target.format(host=host_script)
        tar.addfile(link)
    store.put("s3://b/code/src.tar.gz", buffer.getvalue())
    store.put("s3://b/data/train.csv", b"1,2\n")
    outcome = run_training(_spec("Training"), _training_args(), _ctx(tmp_path))
    assert outcome.status == "Failed"
    assert outcome.failure_reason == f"training input: {reason.format(tmp=tmp_path)}"
    assert not (host_script.parent / "ran").exists()
    assert not (tmp_path / "jobs" / "S" / "code" / "train.py").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["python3", "{host}"],
        ["python3", "/opt/ml/processing/../../../host/evil.py"],
        ["python3", "-c", "import runpy; runpy.run_path('{host}')"],
        ["/bin/sh", "-c", "python3 {host}"],
    ],
)
def test_processing_command_running_host_code_never_runs(
    tmp_path: Path, host_script: Path, argv: list[str]
) -> None:
    store = ObjectStore(tmp_path)
    store.put("s3://b/code/spy.py", SPY.encode())
    store.put("s3://b/data/a.csv", b"1")
    args = _processing_args("spy.py", [])
    args["AppSpecification"] = {"ContainerEntrypoint": [a.format(host=host_script) for a in argv]}
    outcome = run_processing(_spec("Processing"), args, _ctx(tmp_path))
    assert outcome.status == "Failed"
    assert outcome.failure_reason.startswith("processing entrypoint ")
    assert outcome.failure_reason.endswith(
        "; locally a processing job runs an interpreter and a script under /opt/ml "
        "(e.g. python3 /opt/ml/processing/input/code/<file>)"
    )
    assert not (host_script.parent / "ran").exists()


def test_environment_that_loads_host_code_is_refused(tmp_path: Path) -> None:
    lib = tmp_path / "hostlib"
    lib.mkdir()
    (lib / "sitecustomize.py").write_text(f"open({str(lib / 'ran')!r}, 'w').write('ran')")
    store = ObjectStore(tmp_path)
    store.put("s3://b/code/spy.py", SPY.encode())
    store.put("s3://b/data/a.csv", b"1")
    args = _processing_args("spy.py", ["--out", "/opt/ml/processing/out"])
    args["Environment"] = {"PYTHONPATH": str(lib)}
    outcome = run_processing(_spec("Processing"), args, _ctx(tmp_path))
    assert outcome.failure_reason == (
        f"Environment PYTHONPATH={str(lib)!r} loads code from {str(lib)!r}, outside /opt/ml; "
        "locally such variables may only name paths under /opt/ml"
    )
    assert not (lib / "ran").exists()


def _env_args(script: str, secret: Path, **env: str) -> dict[str, Any]:
    args = _processing_args(script, [])
    args["Environment"] = {"OUT": "/opt/ml/processing/out", "SECRET": str(secret), **env}
    return args


def test_processing_output_linked_out_of_the_job_stores_nothing(
    tmp_path: Path, host_secret: Path
) -> None:
    store = ObjectStore(tmp_path)
    store.put("s3://b/code/link.py", LINK_OUT.encode())
    store.put("s3://b/data/a.csv", b"1")
    outcome = run_processing(_spec("Processing"), _env_args("link.py", host_secret), _ctx(tmp_path))
    assert outcome.status == "Failed"
    assert outcome.failure_reason == (
        f"processing output: /opt/ml/processing/out/creds.txt is a link to {host_secret}, outside "
        "the job folder; outputs never follow links out (write the file itself into the output "
        "folder)"
    )
    assert store.list_prefix("s3://b/results/out") == []


def test_failure_message_linked_out_of_the_job_is_not_read(
    tmp_path: Path, host_secret: Path
) -> None:
    store = ObjectStore(tmp_path)
    store.put("s3://b/code/link.py", LINK_OUT.encode())
    store.put("s3://b/data/a.csv", b"1")
    args = _env_args("link.py", host_secret, MESSAGE="/opt/ml/output/message")
    outcome = run_processing(_spec("Processing"), args, _ctx(tmp_path))
    assert outcome.failure_reason == (
        "exit code 1; last output: no output (message leads out of the job folder; not read)"
    )


def test_model_folder_linked_out_of_the_job_stores_no_model(
    tmp_path: Path, host_secret: Path
) -> None:
    store = ObjectStore(tmp_path)
    _store_script(store, "train.py", LINK_OUT)
    args = _training_args()
    args["Environment"] = {"SECRET": str(host_secret)}
    outcome = run_training(_spec("Training"), args, _ctx(tmp_path))
    assert outcome.status == "Failed"
    assert outcome.failure_reason == (
        f"training output: /opt/ml/model/creds.txt is a link to {host_secret}, outside the job "
        "folder; outputs never follow links out (write the file itself into the output folder)"
    )
    assert not store.path("s3://b/models/pipelines-exec1-S/output/model.tar.gz").exists()


CALLER_ONLY = {
    "AWS_ACCESS_KEY_ID": "AKIAFAKE",
    "AWS_SECRET_ACCESS_KEY": "fake",
    "AWS_SESSION_TOKEN": "fake",
    "AWS_PROFILE": "ml",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
    "MOONPIPE_ROLE_ARN": "arn:fake",
    "PYTHONPATH": "/work/main",
    "VIRTUAL_ENV": "/work/main/.venv",
    "SM_MODEL_DIR": "/x",
}


@pytest.mark.parametrize("kind", ["Processing", "Training"])
def test_jobs_get_a_clean_environment_without_the_callers_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    for name, value in CALLER_ONLY.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LANG", "C.UTF-8")
    store = ObjectStore(tmp_path)
    _store_script(store, "env.py", ENV_DUMP)
    store.put("s3://b/data/a.csv", b"1")
    if kind == "Processing":
        args = _env_args("env.py", tmp_path, AWS_REGION="us-east-1")
        outcome = run_processing(_spec(kind), args, _ctx(tmp_path))
        env = json.loads(store.get("s3://b/results/out/env.json"))
    else:
        args = _training_args(sagemaker_program='"env.py"')
        outcome = run_training(_spec(kind), args, _ctx(tmp_path))
        with tarfile.open(
            fileobj=io.BytesIO(store.get(outcome.properties["ModelArtifacts"]["S3ModelArtifacts"]))
        ) as tar:
            env = json.load(tar.extractfile("env.json"))  # type: ignore[arg-type]
    assert outcome.status == "Succeeded", outcome.failure_reason
    job = tmp_path / "jobs" / "S"
    leaked = {k for k in env if k.startswith(("AWS_", "MOONPIPE_")) or k in CALLER_ONLY}
    assert leaked == ({"AWS_REGION"} if kind == "Processing" else {"SM_MODEL_DIR"})
    assert env.get("SM_MODEL_DIR", f"{job}/model") == f"{job}/model"
    assert env["HOME"] == f"{job}/home"
    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)
    assert env["LANG"] == "C.UTF-8"
    assert (env["OMP_NUM_THREADS"], env["PYTHONUNBUFFERED"]) == ("1", "1")


def test_crafted_definition_fails_at_its_training_step_and_registers_nothing(
    tmp_path: Path, host_script: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    definition = full_definition()
    hps = definition["Steps"][1]["Arguments"]["HyperParameters"]
    hps["sagemaker_program"] = json.dumps(str(host_script))
    runner = local_runner(tmp_path / "store", fake_endpoints)
    runner.pipelines.upsert(pipeline(definition), None)
    summary = runner.run(runner.start("p", {}), lambda record: None)
    assert summary.status == "Failed"
    assert [(s.name, s.status) for s in summary.steps] == [
        ("Prep", "Succeeded"),
        ("Train", "Failed"),
    ]
    assert summary.steps[1].failure_reason == (
        f"training job refused: sagemaker_program {str(host_script)!r} is an absolute path; "
        "name a script inside the source directory, e.g. 'train.py'"
    )
    assert summary.model_package_arn is None and fake_endpoints == []
    assert not (host_script.parent / "ran").exists()
