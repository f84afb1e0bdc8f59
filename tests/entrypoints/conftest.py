"""Shared fixtures: run the entrypoints as the local engine will, and train only once.

Every script runs as a subprocess of ``sys.executable`` with its container paths (arguments,
SM_* environment, its own location) spelled as the real /opt/ml paths and mapped onto a
temporary job root by pipeline/local/container_paths.py, the engine's one mapping mechanism.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from pipeline.local.container_paths import host_path, map_args, map_env

ENTRYPOINTS = Path(__file__).resolve().parents[2] / "entrypoints"
PROCESSING_CODE = "/opt/ml/processing/input/code"
TRAINING_CODE = "/opt/ml/code"
# what sourcedir.tar.gz gives a training job: train.py and the siblings it imports or ships
TRAINING_FILES = (
    "train.py",
    "training_data.py",
    "training_step.py",
    "network.py",
    "optim.py",
    "inference.py",
)
TRAINING_ENV = {
    "SM_CHANNEL_TRAIN": "/opt/ml/input/data/train",
    "SM_CHANNELS": '["train"]',
    "SM_MODEL_DIR": "/opt/ml/model",
    "SM_OUTPUT_DATA_DIR": "/opt/ml/output/data",
    "SM_OUTPUT_DIR": "/opt/ml/output",
}
PREPROCESS_ARGS = [
    "--train-dir",
    "/opt/ml/processing/train",
    "--test-dir",
    "/opt/ml/processing/test",
    "--failure-file",
    "/opt/ml/output/message",
]
EVALUATE_ARGS = [
    "--model-path",
    "/opt/ml/processing/model/model.tar.gz",
    "--test-path",
    "/opt/ml/processing/test/test.csv",
    "--output-dir",
    "/opt/ml/processing/evaluation",
    "--failure-file",
    "/opt/ml/output/message",
]


@dataclass(frozen=True)
class Job:
    """One finished job: where it ran and what the process did."""

    root: Path
    result: subprocess.CompletedProcess[str]

    def path(self, container_path: str) -> Path:
        """The host file standing for ``container_path`` in this job."""
        return host_path(container_path, self.root)


def install_code(root: Path, container_dir: str, names: Sequence[str]) -> None:
    """Copy entrypoint files to where the container would have them."""
    target = host_path(container_dir, root)
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(ENTRYPOINTS / name, target / name)


def run_container(
    root: Path,
    entrypoint: Sequence[str],
    arguments: Sequence[str],
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> Job:
    """Run ``python <entrypoint> <arguments>`` with every /opt/ml path mapped onto ``root``."""
    command = [sys.executable, *map_args([*entrypoint, *arguments], root)]
    full_env = {**os.environ, **map_env(dict(env or {}), root)}
    workdir = host_path(cwd, root) if cwd else root
    result = subprocess.run(
        command, env=full_env, cwd=workdir, capture_output=True, text=True, timeout=300, check=False
    )
    return Job(root, result)


def run_processing(root: Path, script: str, arguments: Sequence[str]) -> Job:
    """A processing job: the script at /opt/ml/processing/input/code/<script>."""
    install_code(root, PROCESSING_CODE, [script])
    return run_container(root, [f"{PROCESSING_CODE}/{script}"], arguments)


def run_training(root: Path, arguments: Sequence[str], train_files: Mapping[str, bytes]) -> Job:
    """A script-mode training job: cwd /opt/ml/code, channel files, SM_* environment."""
    install_code(
        root,
        TRAINING_CODE,
        TRAINING_FILES,
    )
    channel = host_path(TRAINING_ENV["SM_CHANNEL_TRAIN"], root)
    channel.mkdir(parents=True, exist_ok=True)
    for name, data in train_files.items():
        (channel / name).write_bytes(data)
    return run_container(root, ["train.py"], arguments, env=TRAINING_ENV, cwd=TRAINING_CODE)


def run_evaluation(root: Path, archive: Path | None, test_csv: bytes) -> Job:
    """An evaluation job: the archive and test.csv placed as its processing inputs."""
    model_input = host_path("/opt/ml/processing/model/model.tar.gz", root)
    model_input.parent.mkdir(parents=True, exist_ok=True)
    if archive is not None:
        shutil.copyfile(archive, model_input)
    test_input = host_path("/opt/ml/processing/test/test.csv", root)
    test_input.parent.mkdir(parents=True, exist_ok=True)
    test_input.write_bytes(test_csv)
    return run_processing(root, "evaluate.py", EVALUATE_ARGS)


def make_archive(model_dir: Path, archive: Path) -> Path:
    """model.tar.gz as SageMaker packs SM_MODEL_DIR: its contents at the archive root."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for item in sorted(model_dir.iterdir()):
            tar.add(item, arcname=item.name)
    return archive


def load_module(path: Path, name: str) -> ModuleType:
    """Import a file by path under a unique name (entrypoints are not a package)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_failed(job: Job, code: int, message: str, failure_file: Path) -> None:
    """The job exited with ``code`` and said exactly ``message`` on stderr and in the file."""
    assert job.result.returncode == code, job.result.stderr
    assert job.result.stderr.strip() == message
    assert failure_file.read_text().strip() == message


@pytest.fixture(scope="session")
def course_data(tmp_path_factory: pytest.TempPathFactory) -> Job:
    """PrepareMoonData with default options (the course split)."""
    job = run_processing(tmp_path_factory.mktemp("prepare"), "preprocess.py", PREPROCESS_ARGS)
    assert job.result.returncode == 0, job.result.stderr
    return job


@pytest.fixture(scope="session")
def train_csv(course_data: Job) -> bytes:
    """The course's training split as preprocess.py wrote it."""
    return course_data.path("/opt/ml/processing/train/train.csv").read_bytes()


@pytest.fixture(scope="session")
def test_csv_path(course_data: Job) -> Path:
    """The course's test split as preprocess.py wrote it."""
    return course_data.path("/opt/ml/processing/test/test.csv")


@pytest.fixture(scope="session")
def default_training(tmp_path_factory: pytest.TempPathFactory, train_csv: bytes) -> Job:
    """TrainMoonClassifier with the hyperparameters the pipeline passes by default."""
    args = ["--epochs", "100", "--hidden_dim", "20", "--input_dim", "2", "--output_dim", "1"]
    job = run_training(tmp_path_factory.mktemp("train"), args, {"train.csv": train_csv})
    assert job.result.returncode == 0, job.result.stderr
    return job


@pytest.fixture(scope="session")
def model_dir(default_training: Job) -> Path:
    """SM_MODEL_DIR of the default training job."""
    return default_training.path("/opt/ml/model")


@pytest.fixture(scope="session")
def model_archive(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """model.tar.gz of the default training job."""
    return make_archive(model_dir, tmp_path_factory.mktemp("artifact") / "model.tar.gz")


@pytest.fixture(scope="session")
def inference(model_dir: Path) -> ModuleType:
    """The serving module exactly as it ships: code/inference.py inside the artifact."""
    return load_module(model_dir / "code" / "inference.py", "shipped_inference")


@pytest.fixture(scope="session")
def served_model(inference: ModuleType, model_dir: Path) -> Any:
    """The model as the serving container loads it."""
    return inference.model_fn(str(model_dir))


@pytest.fixture(scope="session")
def jobs() -> ModuleType:
    """This module's helpers (run_processing, run_training, assert_failed, ...).

    Handed out as a fixture rather than imported, because several test folders have a
    conftest.py and ``import conftest`` would pick whichever came first.
    """
    return sys.modules[__name__]
