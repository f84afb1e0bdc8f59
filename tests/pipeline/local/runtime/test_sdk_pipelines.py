"""Issue 17's findings, each as a pipeline the SageMaker SDK builds the way AWS's examples do.

Each runs to the end it would reach on SageMaker: Succeeded, or Failed with SageMaker's
reason. Jobs start as users' do (the warm host), in their own namespaces; the findings that
do not need the container's paths run in the fallback too (MOONPIPE_JOB_ISOLATION=paths).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy
import pytest

from pipeline.local.facts import execution_facts
from pipeline.local.runtime.mode import ISOLATION_VARIABLE
from pipeline.local.store.objects import ObjectStore
from pipeline.local.store.records import Records
from tests.pipeline.local.runtime.conftest import needs_namespaces
from tests.pipeline.local.runtime.sdk import (
    BUCKET,
    INSTANCE,
    ROLE,
    build,
    members,
    run,
    step,
    tar_gz,
    write,
)

RAW = f"s3://{BUCKET}/raw/raw.csv"

HARD_CODED = """
import os, pathlib
base_dir = "/opt/ml/processing"   # as AWS's examples write it
rows = pathlib.Path(f"{base_dir}/input/raw.csv").read_text().splitlines()
os.makedirs(f"{base_dir}/train", exist_ok=True)
pathlib.Path(f"{base_dir}/train/train.csv").write_text("\\n".join(r.upper() for r in rows))
"""
CONSUMER = """
import os, pathlib
rows = pathlib.Path("/opt/ml/processing/train/train.csv").read_text().splitlines()
os.makedirs("/opt/ml/processing/count", exist_ok=True)
pathlib.Path("/opt/ml/processing/count/count.txt").write_text(f"{len(rows)} {rows[0]}")
"""
FRAMEWORK = """
import os, pathlib
import helpers   # a second file of the source_dir
os.makedirs("/opt/ml/processing/out", exist_ok=True)
pathlib.Path("/opt/ml/processing/out/result.txt").write_text(helpers.greeting())
"""
TRAIN_OUTPUTS = """
import json, os
os.makedirs(os.environ["SM_MODEL_DIR"], exist_ok=True)
open(os.path.join(os.environ["SM_MODEL_DIR"], "model.pth"), "w").write("weights")
os.makedirs(os.environ["SM_OUTPUT_DATA_DIR"], exist_ok=True)
json.dump({"loss": 0.5}, open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "metrics.json"), "w"))
"""
USES_REQUIREMENT = """
import os, tabulate
os.makedirs(os.environ["SM_MODEL_DIR"], exist_ok=True)
open(os.path.join(os.environ["SM_MODEL_DIR"], "version.txt"), "w").write(tabulate.__version__)
"""
SAVES_AT_SIGTERM = """
import os, signal, sys, time
def save(signum, frame):
    os.makedirs(os.environ["SM_MODEL_DIR"], exist_ok=True)
    open(os.path.join(os.environ["SM_MODEL_DIR"], "model.pth"), "w").write("saved at SIGTERM")
    sys.exit(0)
signal.signal(signal.SIGTERM, save)
print("training", flush=True)
time.sleep(4)
print("finished", flush=True)
"""
SLEEPS = """
import time
print("processing", flush=True)
time.sleep(4)
print("finished", flush=True)
"""
GLOO = """
import argparse, datetime, json, os, socket
import torch, torch.distributed as dist
parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int)
port = parser.parse_args().port
hosts, me = json.loads(os.environ["SM_HOSTS"]), os.environ["SM_CURRENT_HOST"]
config = json.load(open("/opt/ml/input/config/resourceconfig.json"))
assert (config["hosts"], config["current_host"]) == (hosts, me), config
rank = hosts.index(me)
dist.init_process_group("gloo", init_method=f"tcp://{hosts[0]}:{port}", rank=rank,
                        world_size=len(hosts), timeout=datetime.timedelta(seconds=60))
total = torch.tensor([float(rank + 1)])
dist.all_reduce(total)
os.makedirs("/opt/ml/model", exist_ok=True)
open(f"/opt/ml/model/{me}.txt", "w").write(f"{socket.gethostname()} {total.item()}")
dist.destroy_process_group()
"""
CONNECTS = """
import errno, os, pathlib, socket, sys
port = int(sys.argv[sys.argv.index("--port") + 1])
try:
    socket.create_connection(("127.0.0.1", port), timeout=3).close()
    seen = "connected"
except OSError as err:
    seen = errno.errorcode.get(err.errno, str(err))
os.makedirs("/opt/ml/processing/out", exist_ok=True)
pathlib.Path("/opt/ml/processing/out/seen.txt").write_text(seen)
"""
WRITES_OUTSIDE = """
import errno, json, os, pathlib, sys
seen = {}
for target in sys.argv[1:]:
    try:
        pathlib.Path(target).write_text("escaped")
        seen[target] = "written"
    except OSError as err:
        seen[target] = errno.errorcode.get(err.errno, str(err))
os.makedirs("/opt/ml/processing/out", exist_ok=True)
pathlib.Path("/opt/ml/processing/out/seen.json").write_text(json.dumps(seen))
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store (and one warm host) for the module: each test runs a pipeline of its own."""
    return tmp_path_factory.mktemp("sdk") / "store"


@pytest.fixture(params=["namespaces", "paths"])
def isolation(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with namespaces (where available) and with the fallback."""
    if request.param == "namespaces":
        needs_namespaces()
    monkeypatch.setenv(ISOLATION_VARIABLE, request.param)
    return str(request.param)


@pytest.fixture
def with_namespaces(monkeypatch: pytest.MonkeyPatch) -> None:
    needs_namespaces()
    monkeypatch.setenv(ISOLATION_VARIABLE, "namespaces")


def _sklearn(session: Any, **kw: Any) -> Any:
    from sagemaker.sklearn.processing import SKLearnProcessor

    return SKLearnProcessor(
        framework_version="1.2-1",
        role=ROLE,
        instance_type=INSTANCE,
        instance_count=kw.pop("instance_count", 1),
        sagemaker_session=session,
        **kw,
    )


def _pytorch_processor(session: Any) -> Any:
    from sagemaker.pytorch.processing import PyTorchProcessor

    return PyTorchProcessor(
        framework_version="2.6.0",
        py_version="py312",
        role=ROLE,
        instance_type=INSTANCE,
        instance_count=1,
        sagemaker_session=session,
    )


def _pytorch(session: Any, code: Path, entry_point: str = "train.py", **kw: Any) -> Any:
    from sagemaker.pytorch import PyTorch

    return PyTorch(
        entry_point=entry_point,
        source_dir=str(code),
        framework_version="2.6.0",
        py_version="py312",
        role=ROLE,
        instance_type=INSTANCE,
        instance_count=kw.pop("instance_count", 1),
        sagemaker_session=session,
        **kw,
    )


def _training_step(name: str, estimator: Any) -> Any:
    from sagemaker.workflow.steps import TrainingStep

    from pipeline.assembly.offline_sdk import call_without_telemetry

    return TrainingStep(name=name, step_args=call_without_telemetry(estimator, "fit"))


@pytest.fixture(autouse=True)
def host_opt_ml() -> Iterator[None]:
    """Nothing a job does reaches this machine's real /opt/ml (in either mode: the fallback's
    scripts here name container paths only through the definition)."""
    before = sorted(os.listdir("/opt/ml")) if os.path.isdir("/opt/ml") else None
    yield
    after = sorted(os.listdir("/opt/ml")) if os.path.isdir("/opt/ml") else None
    assert after == before, "a job wrote to this machine's /opt/ml"


def test_a_processing_script_with_hard_coded_container_paths(
    store: Path, tmp_path: Path, with_namespaces: None
) -> None:
    from sagemaker.processing import ProcessingInput, ProcessingOutput
    from sagemaker.workflow.steps import ProcessingStep

    code = write(tmp_path / "code", {"prepare.py": HARD_CODED, "count.py": CONSUMER})

    def steps(session: Any) -> list[Any]:
        prepare = ProcessingStep(
            name="Prepare",
            step_args=_sklearn(session).run(
                code=str(code / "prepare.py"),
                inputs=[ProcessingInput(source=RAW, destination="/opt/ml/processing/input")],
                outputs=[ProcessingOutput(output_name="train", source="/opt/ml/processing/train")],
            ),
        )
        train_uri = prepare.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri
        count = ProcessingStep(
            name="Count",
            step_args=_sklearn(session).run(
                code=str(code / "count.py"),
                inputs=[ProcessingInput(source=train_uri, destination="/opt/ml/processing/train")],
                outputs=[ProcessingOutput(output_name="count", source="/opt/ml/processing/count")],
            ),
        )
        return [prepare, count]

    summary, props = run(store, build("hard-coded", steps), {RAW: b"a\nb\nc"})
    assert summary.status == "Succeeded", [s.failure_reason for s in summary.steps]
    uri = props["Count"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    assert ObjectStore(store).get(f"{uri}/count.txt") == b"3 A"


def test_a_framework_processor_with_source_dir_and_requirements(
    store: Path, tmp_path: Path, with_namespaces: None
) -> None:
    """PyTorchProcessor ships source_dir as sourcedir.tar.gz and runs the SDK's runproc.sh,
    which cds into /opt/ml/processing/input/code and pip-installs requirements.txt: here
    a pinned package that is already installed, so its pip changes nothing."""
    from sagemaker.processing import ProcessingOutput
    from sagemaker.workflow.steps import ProcessingStep

    code = write(
        tmp_path / "src",
        {
            "process.py": FRAMEWORK,
            "helpers.py": "def greeting():\n    return 'from helpers'\n",
            "requirements.txt": f"numpy=={numpy.__version__}\n",
        },
    )

    def steps(session: Any) -> list[Any]:
        args = _pytorch_processor(session).run(
            code="process.py",
            source_dir=str(code),
            outputs=[ProcessingOutput(output_name="out", source="/opt/ml/processing/out")],
        )
        return [ProcessingStep(name="Framework", step_args=args)]

    summary, props = run(store, build("framework", steps))
    only = step(summary, "Framework")
    assert summary.status == "Succeeded", only.failure_reason
    uri = props["Framework"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    assert ObjectStore(store).get(f"{uri}/result.txt") == b"from helpers"
    log = Path(only.log_path).read_text()
    assert f"Requirement already satisfied: numpy=={numpy.__version__}" in log


def test_a_requirement_no_local_wheel_has_fails_the_step_naming_it(
    store: Path, tmp_path: Path, with_namespaces: None
) -> None:
    from sagemaker.workflow.steps import ProcessingStep

    code = write(
        tmp_path / "src",
        {"process.py": "print('never')\n", "requirements.txt": "no-such-package-moonpipe==1.0\n"},
    )

    def steps(session: Any) -> list[Any]:
        args = _pytorch_processor(session).run(code="process.py", source_dir=str(code))
        return [ProcessingStep(name="Framework", step_args=args)]

    summary, _ = run(store, build("missing-requirement", steps))
    reason = step(summary, "Framework").failure_reason
    assert summary.status == "Failed"
    assert reason.startswith(
        "requirements.txt: no local distribution satisfies 'no-such-package-moonpipe==1.0' "
        "(installed offline from "
    ), reason
    assert reason.endswith("; SageMaker would download it from PyPI)") and "\n" not in reason


def test_a_training_source_dirs_requirements_are_installed_as_a_layer(
    store: Path, tmp_path: Path, isolation: str
) -> None:
    """The training toolkit pip-installs /opt/ml/code/requirements.txt before the script:
    here a package the engine lacks, from a local wheel, never into the engine's own
    environment."""
    from tests.pipeline.local.runtime.test_requirements_layers import TABULATE, _wheels

    _wheels()
    code = write(
        tmp_path / f"req-{isolation}",
        {"train.py": USES_REQUIREMENT, "requirements.txt": f"{TABULATE}\n"},
    )

    def steps(session: Any) -> list[Any]:
        return [_training_step("Fit", _pytorch(session, code))]

    summary, props = run(store, build(f"requirements-{isolation}", steps))
    assert summary.status == "Succeeded", step(summary, "Fit").failure_reason
    model = ObjectStore(store).get(props["Fit"]["ModelArtifacts"]["S3ModelArtifacts"])
    assert members(model) == {"version.txt": b"0.10.0"}
    with pytest.raises(ImportError):
        __import__("tabulate")  # the engine's environment is as it was


def test_a_model_step_with_an_entry_point_runs_the_sdks_repack_step(
    store: Path, tmp_path: Path, with_namespaces: None
) -> None:
    """PyTorchModel(entry_point=...) in a ModelStep: the SDK adds a _RepackModelStep, a
    training job running its own _repack_model.py, which reads
    /opt/ml/input/data/training/model.tar.gz and writes /opt/ml/model."""
    from sagemaker.pytorch.model import PyTorchModel
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.parameters import ParameterString

    code = write(tmp_path / "serve", {"inference.py": "def model_fn(model_dir):\n    return 1\n"})
    model_data = ParameterString("ModelData", default_value=f"s3://{BUCKET}/models/model.tar.gz")

    def steps(session: Any) -> list[Any]:
        model = PyTorchModel(
            model_data=model_data,
            entry_point="inference.py",
            source_dir=str(code),
            framework_version="2.6.0",
            py_version="py312",
            role=ROLE,
            sagemaker_session=session,
        )
        return [ModelStep(name="Serve", step_args=model.create(instance_type=INSTANCE))]

    pipeline = build("repack", steps, [model_data])
    model = tar_gz({"model.pth": b"weights"})
    summary, props = run(store, pipeline, {f"s3://{BUCKET}/models/model.tar.gz": model})
    assert summary.status == "Succeeded", [s.failure_reason for s in summary.steps]
    repack = next(name for name in props if "Repack" in name)
    repacked = ObjectStore(store).get(props[repack]["ModelArtifacts"]["S3ModelArtifacts"])
    files = members(repacked)
    assert files["model.pth"] == b"weights"
    assert files["code/inference.py"].startswith(b"def model_fn")


def test_a_training_job_over_its_max_runtime_is_stopped_as_sagemaker_stops_it(
    store: Path, tmp_path: Path, isolation: str
) -> None:
    """max_run=1 and a 4-second script: SIGTERM at the limit (the script saves its model in
    its handler), TrainingJobStatus Stopped, SecondaryStatus MaxRuntimeExceeded, the model
    still uploaded; the step fails naming the limit."""
    code = write(tmp_path / f"train-{isolation}", {"train.py": SAVES_AT_SIGTERM})

    def steps(session: Any) -> list[Any]:
        return [_training_step("Train", _pytorch(session, code, max_run=1))]

    summary, props = run(store, build(f"over-time-{isolation}", steps))
    train = step(summary, "Train")
    assert summary.status == "Failed"
    assert "MaxRuntimeInSeconds (1 s)" in train.failure_reason
    assert props["Train"]["TrainingJobStatus"] == "Stopped"
    assert props["Train"]["SecondaryStatus"] == "MaxRuntimeExceeded"
    assert "FailureReason" not in props["Train"]
    model = ObjectStore(store).get(props["Train"]["ModelArtifacts"]["S3ModelArtifacts"])
    assert members(model) == {"model.pth": b"saved at SIGTERM"}
    log = Path(train.log_path).read_text()
    assert "training" in log and "finished" not in log


def test_a_processing_job_over_its_max_runtime_is_stopped(
    store: Path, tmp_path: Path, isolation: str
) -> None:
    from sagemaker.workflow.steps import ProcessingStep

    code = write(tmp_path / "code", {"sleeps.py": SLEEPS})

    def steps(session: Any) -> list[Any]:
        processor = _sklearn(session, max_runtime_in_seconds=1)
        return [ProcessingStep(name="Sleep", step_args=processor.run(code=str(code / "sleeps.py")))]

    summary, props = run(store, build(f"slow-processing-{isolation}", steps))
    sleep = step(summary, "Sleep")
    assert summary.status == "Failed"
    assert "MaxRuntimeInSeconds (1 s)" in sleep.failure_reason
    assert props["Sleep"]["ProcessingJobStatus"] == "Stopped"
    assert "finished" not in Path(sleep.log_path).read_text()


def test_two_training_instances_form_a_gloo_process_group(
    store: Path, tmp_path: Path, with_namespaces: None
) -> None:
    """InstanceCount=2: two hosts, algo-1 and algo-2, with SageMaker's resourceconfig.json and
    SM_HOSTS/SM_CURRENT_HOST; they reach each other by name and all-reduce over gloo."""
    code = write(tmp_path / "dist", {"train.py": GLOO})
    port = _free_port()

    def steps(session: Any) -> list[Any]:
        estimator = _pytorch(session, code, instance_count=2, hyperparameters={"port": port})
        return [_training_step("Distributed", estimator)]

    summary, props = run(store, build("two-hosts", steps))
    distributed = step(summary, "Distributed")
    assert summary.status == "Succeeded", distributed.failure_reason
    model = members(
        ObjectStore(store).get(props["Distributed"]["ModelArtifacts"]["S3ModelArtifacts"])
    )
    assert model == {"algo-1.txt": b"algo-1 3.0", "algo-2.txt": b"algo-2 3.0"}


@pytest.mark.parametrize("isolated", [True, False], ids=["isolated", "open"])
def test_network_isolation_leaves_a_job_no_way_to_a_local_port(
    store: Path, tmp_path: Path, with_namespaces: None, isolated: bool
) -> None:
    from sagemaker.network import NetworkConfig
    from sagemaker.processing import ProcessingOutput
    from sagemaker.workflow.steps import ProcessingStep

    code = write(tmp_path / "code", {"connects.py": CONNECTS})
    server, accepted = _counting_server()
    port = server.getsockname()[1]

    def steps(session: Any) -> list[Any]:
        network = NetworkConfig(enable_network_isolation=isolated)
        args = _sklearn(session, network_config=network).run(
            code=str(code / "connects.py"),
            arguments=["--port", str(port)],
            outputs=[ProcessingOutput(output_name="out", source="/opt/ml/processing/out")],
        )
        return [ProcessingStep(name="Connect", step_args=args)]

    try:
        summary, props = run(store, build(f"isolated-{isolated}", steps))
    finally:
        server.close()
    assert summary.status == "Succeeded", step(summary, "Connect").failure_reason
    uri = props["Connect"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    seen = ObjectStore(store).get(f"{uri}/seen.txt").decode()
    if isolated:
        assert (seen, accepted) == ("ECONNREFUSED", [])
    else:
        assert seen == "connected" and len(accepted) == 1


def test_a_job_cannot_write_outside_its_folder(
    store: Path, tmp_path: Path, with_namespaces: None
) -> None:
    from sagemaker.processing import ProcessingOutput
    from sagemaker.workflow.steps import ProcessingStep

    code = write(tmp_path / "code", {"escape.py": WRITES_OUTSIDE})
    in_tmp = tmp_path / "outside.txt"  # /tmp is the job's own: this path is not there
    beside = Path(__file__).with_name(f"escaped-{os.getpid()}.txt")  # the read-only host
    in_store = store / "executions" / "planted.txt"
    system = [Path(f"/{top}/moonpipe-escape-{os.getpid()}") for top in ("etc", "usr")]

    def steps(session: Any) -> list[Any]:
        args = _sklearn(session).run(
            code=str(code / "escape.py"),
            arguments=[str(p) for p in (in_tmp, beside, in_store, *system)],
            outputs=[ProcessingOutput(output_name="out", source="/opt/ml/processing/out")],
        )
        return [ProcessingStep(name="Escape", step_args=args)]

    try:
        summary, props = run(store, build("escape", steps))
        assert not any(p.exists() for p in (in_tmp, beside, in_store, *system))
    finally:
        for planted in (beside, *system):
            planted.unlink(missing_ok=True)
    assert summary.status == "Succeeded", step(summary, "Escape").failure_reason
    uri = props["Escape"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    seen = json.loads(ObjectStore(store).get(f"{uri}/seen.json"))
    assert set(seen.values()) <= {"EROFS", "EACCES", "ENOENT"}, seen
    assert seen[str(beside)] == "EROFS"


def test_training_output_data_becomes_output_tar_gz_beside_the_model(
    store: Path, tmp_path: Path, isolation: str
) -> None:
    code = write(tmp_path / f"out-{isolation}", {"train.py": TRAIN_OUTPUTS})

    def steps(session: Any) -> list[Any]:
        return [_training_step("Fit", _pytorch(session, code))]

    summary, props = run(store, build(f"outputs-{isolation}", steps))
    assert summary.status == "Succeeded", step(summary, "Fit").failure_reason
    model_uri = props["Fit"]["ModelArtifacts"]["S3ModelArtifacts"]
    assert model_uri.endswith("/output/model.tar.gz")
    output_uri = model_uri.removesuffix("model.tar.gz") + "output.tar.gz"
    assert members(ObjectStore(store).get(output_uri)) == {"metrics.json": b'{"loss": 0.5}'}
    assert members(ObjectStore(store).get(model_uri)) == {"model.pth": b"weights"}


def test_the_image_and_the_fallback_are_noted_once_per_execution(
    store: Path, tmp_path: Path, isolation: str
) -> None:
    """Two steps of one image (the sklearn 1.2-1 image runs Python 3.9): one note each in
    the run's summary notes and in the facts the report reads."""
    from sagemaker.workflow.steps import ProcessingStep

    code = write(tmp_path / "code", {"a.py": "print('a')\n", "b.py": "print('b')\n"})

    def steps(session: Any) -> list[Any]:
        one = ProcessingStep(name="A", step_args=_sklearn(session).run(code=str(code / "a.py")))
        two = ProcessingStep(name="B", step_args=_sklearn(session).run(code=str(code / "b.py")))
        two.add_depends_on([one])
        return [one, two]

    notes: list[str] = []
    summary, _ = run(store, build(f"notes-{isolation}", steps), notes=notes)
    assert summary.status == "Succeeded"
    image = [n for n in notes if n.startswith("image sagemaker-scikit-learn:1.2-1-cpu-py3 ")]
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert image == [
        "image sagemaker-scikit-learn:1.2-1-cpu-py3 differs from the interpreter jobs run "
        f"here: Python {here} here, 3.9 in the image; scikit-learn "
        f"{_version('scikit-learn')} here, 1.2 in the image"
    ]
    fallback = [n for n in notes if n.startswith("jobs run without namespaces")]
    assert len(fallback) == (1 if isolation == "paths" else 0)
    facts = execution_facts(Records(store), ObjectStore(store), summary.execution_id)
    assert [n for n in facts.notes if n in notes] == [*fallback, *image]
    assert len(facts.notes) == len(set(facts.notes))


def _version(distribution: str) -> str:
    import importlib.metadata

    return importlib.metadata.version(distribution)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _counting_server() -> tuple[socket.socket, list[Any]]:
    """A TCP server on 127.0.0.1 that records every connection it accepts."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[Any] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            accepted.append(conn.getpeername())
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return server, accepted
