"""The assembled pipeline: parameters, DAG, offline/deterministic build guarantees."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pipeline.assembly.builder import LOCAL_ROLE_ARN, STAGED_CODE, build_pipeline, staged_code
from pipeline.config import DEFAULT_CONFIG_PATH, PipelineConfig, load_config
from pipeline.core.errors import ConfigError, MoonpipeError
from pipeline.core.records import PipelineDefinition

REPO = DEFAULT_CONFIG_PATH.parent.parent
ROLE = "arn:aws:iam::123456789012:role/MoonpipeSageMaker"

EXPECTED_PARAMETERS = [
    ("ProcessingInstanceType", "String", "ml.m5.large"),
    ("TrainingInstanceType", "String", "ml.m5.large"),
    ("EndpointInstanceType", "String", "ml.m5.large"),
    ("NumPoints", "Integer", 600),
    ("Noise", "Float", 0.25),
    ("TestSize", "Float", 0.25),
    ("DataSeed", "Integer", 0),
    ("SplitSeed", "Integer", 1),
    ("HiddenDim", "Integer", 20),
    ("Epochs", "Integer", 100),
    ("LearningRate", "Float", 0.05),
    ("BatchSize", "Integer", 128),
    ("TrainSeed", "Integer", 0),
    ("AccuracyThreshold", "Float", 0.9),
    ("ModelApprovalStatus", "String", "Approved"),
    ("EndpointName", "String", "moonpipe-endpoint"),
    ("Deploy", "Boolean", True),
]

# A user-level SageMaker SDK defaults file that would change a plain SDK session's output.
HOME_SDK_CONFIG = """\
SchemaVersion: '1.0'
SageMaker:
  PythonSDK:
    Modules:
      Session:
        DefaultS3ObjectKeyPrefix: injected-prefix
  TrainingJob:
    EnableNetworkIsolation: true
    Tags: [{Key: injected, Value: by-home-config}]
  ProcessingJob:
    Tags: [{Key: injected, Value: by-home-config}]
"""

# Builds in a fresh interpreter; with --guard every socket connect / DNS lookup is recorded
# and refused. Results go to a file so SDK output on stdout cannot interfere.
BUILD_SCRIPT = textwrap.dedent(
    """
    import json, socket, sys
    from pathlib import Path
    code_dir, out, guard = Path(sys.argv[1]), Path(sys.argv[2]), "--guard" in sys.argv
    attempts = []
    if guard:
        def refuse(*args, **kwargs):
            attempts.append(repr(args[1:] or args)[:200])
            raise OSError("network is off in this test")
        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.getaddrinfo = refuse
    from pipeline.config import DEFAULT_CONFIG_PATH, load_config
    from pipeline.assembly.builder import build_pipeline
    built = build_pipeline(load_config(DEFAULT_CONFIG_PATH, environ={}), code_dir)
    from sagemaker.config import load_sagemaker_config
    import hashlib
    out.write_text(json.dumps({
        "definition": built.definition,
        "artifact_keys": sorted(built.artifacts),
        "artifacts": {k: hashlib.sha256(v).hexdigest() for k, v in built.artifacts.items()},
        "attempts": attempts,
        "sdk_default_config": load_sagemaker_config(),
    }))
    """
)


def _stub_code(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("preprocess.py", "train.py", "evaluate.py", "network.py", "inference.py"):
        (directory / name).write_text(f"print({name!r})\n")
    return directory


@pytest.fixture(scope="module")
def code_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _stub_code(tmp_path_factory.mktemp("entrypoints"))


@pytest.fixture(scope="module")
def cfg() -> PipelineConfig:
    return load_config(DEFAULT_CONFIG_PATH, environ={})


@pytest.fixture(scope="module")
def built(cfg: PipelineConfig, code_dir: Path) -> PipelineDefinition:
    return build_pipeline(cfg, code_dir)


@pytest.fixture(scope="module")
def definition(built: PipelineDefinition) -> dict[str, Any]:
    return json.loads(built.definition)


@pytest.fixture(scope="module")
def subprocess_builds(
    tmp_path_factory: pytest.TempPathFactory, code_dir: Path
) -> dict[str, dict[str, Any]]:
    """Two builds in fresh interpreters, run in parallel: one plain, one hostile.

    The hostile one has another HOME (with an SDK defaults file), TMPDIR, checkout folder,
    umask and an AWS_PROFILE that does not exist; none of it may change a byte.
    """
    work = tmp_path_factory.mktemp("builds")
    home = work / "home"
    (home / ".config" / "sagemaker").mkdir(parents=True)
    (home / ".config" / "sagemaker" / "config.yaml").write_text(HOME_SDK_CONFIG)
    other_checkout = work / "elsewhere" / "checkout" / "entrypoints"
    shutil.copytree(code_dir, other_checkout)
    plain = {k: v for k, v in os.environ.items() if k != "XDG_CONFIG_HOME"}
    plain["PYTHONPATH"] = str(REPO)
    hostile = {
        **plain,
        "HOME": str(home),
        "AWS_EC2_METADATA_DISABLED": "false",
        "AWS_PROFILE": "no-such-profile",
    }
    runs = {
        "plain": (plain, code_dir, 0o022, []),
        "hostile": (hostile, other_checkout, 0o077, ["--guard"]),
    }
    procs = {}
    for name, (env, code, umask, extra) in runs.items():
        out, tmp = work / f"{name}.json", work / f"tmp-{name}"
        tmp.mkdir()
        cmd = [sys.executable, "-c", BUILD_SCRIPT, str(code), str(out), *extra]
        proc = subprocess.Popen(
            cmd, env={**env, "TMPDIR": str(tmp)}, cwd=work, umask=umask, stderr=subprocess.PIPE
        )
        procs[name] = (proc, out, tmp)
    results = {}
    for name, (proc, out, tmp) in procs.items():
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()[-3000:]
        results[name] = {**json.loads(out.read_text()), "tmp_left": sorted(os.listdir(tmp))}
    return results


def test_every_parameter_with_its_type_and_default(definition: dict[str, Any]) -> None:
    declared = [(p["Name"], p["Type"], p["DefaultValue"]) for p in definition["Parameters"]]
    assert declared == EXPECTED_PARAMETERS


def test_parameter_defaults_follow_the_config(cfg: PipelineConfig, code_dir: Path) -> None:
    import dataclasses

    changed = dataclasses.replace(
        cfg, training=dataclasses.replace(cfg.training, hidden_dim=40, learning_rate=0.5)
    )
    params = json.loads(build_pipeline(changed, code_dir).definition)["Parameters"]
    defaults = {p["Name"]: p["DefaultValue"] for p in params}
    assert (defaults["HiddenDim"], defaults["LearningRate"]) == (40, 0.5)


def test_top_level_steps_and_their_edges(definition: dict[str, Any]) -> None:
    top = [(s["Name"], s["Type"]) for s in definition["Steps"]]
    assert top == [
        ("PrepareMoonData", "Processing"),
        ("TrainMoonClassifier", "Training"),
        ("EvaluateMoonClassifier", "Processing"),
        ("CheckAccuracy", "Condition"),
    ]
    text = json.dumps(definition)
    for edge in (
        "Steps.PrepareMoonData.ProcessingOutputConfig.Outputs['train']",
        "Steps.PrepareMoonData.ProcessingOutputConfig.Outputs['test']",
        "Steps.TrainMoonClassifier.ModelArtifacts.S3ModelArtifacts",
        "Steps.EvaluateMoonClassifier.PropertyFiles.EvaluationReport",
        "Steps.CreateMoonModel-CreateModel.ModelName",
        "Steps.MoonEndpointConfig.EndpointConfigName",
    ):
        assert edge in text


def test_name_description_and_artifacts(built: PipelineDefinition, cfg: PipelineConfig) -> None:
    assert built.name == "moonpipe"
    assert built.description == cfg.pipeline.description
    assert len(built.artifacts) == 3
    for uri in built.artifacts:
        assert uri in built.definition
        assert uri.startswith("s3://moonpipe-artifacts/moonpipe/")


def test_definition_holds_no_local_paths_or_secrets(built: PipelineDefinition) -> None:
    text = built.definition
    for private in (str(REPO), str(Path.home()), "/tmp/", "aws_access_key", "AKIA", "Secret"):
        assert private not in text


def test_local_role_stands_in_only_without_a_configured_role(
    cfg: PipelineConfig, code_dir: Path, built: PipelineDefinition
) -> None:
    assert LOCAL_ROLE_ARN in built.definition
    with_role = load_config(DEFAULT_CONFIG_PATH, {"role_arn": ROLE}, {})
    text = build_pipeline(with_role, code_dir).definition
    assert ROLE in text
    assert LOCAL_ROLE_ARN not in text


def test_sagemaker_target_without_role_builds_nothing(code_dir: Path) -> None:
    cfg = load_config(DEFAULT_CONFIG_PATH, {"target": "sagemaker"}, {})
    with pytest.raises(ConfigError) as caught:
        build_pipeline(cfg, code_dir / "not-even-read")
    assert str(caught.value).startswith("aws.role_arn: target sagemaker needs the IAM role")


def test_missing_script_is_a_clear_error(tmp_path: Path, cfg: PipelineConfig) -> None:
    code = _stub_code(tmp_path / "entrypoints")
    (code / "evaluate.py").unlink()
    with pytest.raises(MoonpipeError) as caught:
        build_pipeline(cfg, code)
    assert str(caught.value) == (
        f"{code / 'evaluate.py'}: missing; the pipeline runs it, restore it from git"
    )


def test_staging_copies_only_the_scripts_and_is_removed_afterwards(tmp_path: Path) -> None:
    source = _stub_code(tmp_path / "entrypoints")
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"\0junk")
    (source / "notes.txt").write_text("not code")
    with staged_code(source) as root:
        staged = sorted(p.name for p in (root / STAGED_CODE).iterdir())
        assert staged == sorted(p.name for p in source.glob("*.py"))
    assert not root.exists()


def test_staging_is_removed_when_the_build_fails(
    tmp_path: Path, cfg: PipelineConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipeline.assembly.moonpipe as moonpipe

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()

    def explode(*_: Any) -> None:
        raise RuntimeError("the SDK broke")

    monkeypatch.setattr(moonpipe, "_assemble", explode)
    with pytest.raises(ConfigError) as caught:
        build_pipeline(cfg, _stub_code(tmp_path / "entrypoints"))
    assert str(caught.value) == (
        "--module-name pipeline.assembly.moonpipe: get_pipeline() failed: RuntimeError: "
        "the SDK broke"
    )
    assert os.listdir(tmp_path / "tmp") == []


def test_code_keys_follow_the_sources_only(
    tmp_path: Path, cfg: PipelineConfig, built: PipelineDefinition
) -> None:
    noisy = _stub_code(tmp_path / "noisy" / "entrypoints")
    (noisy / "__pycache__").mkdir()
    (noisy / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"\0junk")
    assert _digests(build_pipeline(cfg, noisy)) == _digests(built)
    (noisy / "train.py").write_text("print('changed')\n")
    changed = build_pipeline(cfg, noisy)
    tarballs = [k for k in changed.artifacts if k.endswith("sourcedir.tar.gz")]
    assert len(tarballs) == 1 and tarballs[0] not in built.artifacts
    assert [k for k in changed.artifacts if k.endswith(".py")] == [
        k for k in built.artifacts if k.endswith(".py")
    ]


def _digests(built: PipelineDefinition) -> dict[str, str]:
    return {k: hashlib.sha256(v).hexdigest() for k, v in built.artifacts.items()}


def test_byte_identical_across_processes(
    subprocess_builds: dict[str, dict[str, Any]], built: PipelineDefinition
) -> None:
    # This test process and a fresh interpreter (different hash seed, cwd, import order).
    plain = subprocess_builds["plain"]
    assert plain["definition"] == built.definition
    assert plain["artifacts"] == _digests(built)


def test_same_bytes_whatever_tmpdir_home_checkout_umask_or_profile(
    subprocess_builds: dict[str, dict[str, Any]],
) -> None:
    plain, hostile = subprocess_builds["plain"], subprocess_builds["hostile"]
    assert hostile["definition"] == plain["definition"]
    assert hostile["artifacts"] == plain["artifacts"]


def test_a_build_leaves_nothing_in_tmpdir(subprocess_builds: dict[str, dict[str, Any]]) -> None:
    assert subprocess_builds["plain"]["tmp_left"] == []
    assert subprocess_builds["hostile"]["tmp_left"] == []


def test_build_opens_no_socket(subprocess_builds: dict[str, dict[str, Any]]) -> None:
    hostile = subprocess_builds["hostile"]
    assert hostile["attempts"] == []
    assert hostile["definition"] == subprocess_builds["plain"]["definition"]


def test_home_sdk_config_is_ignored(subprocess_builds: dict[str, dict[str, Any]]) -> None:
    hostile = subprocess_builds["hostile"]
    # The file is where the SDK looks, and a default session would apply it ...
    sdk_seen = hostile["sdk_default_config"]
    assert sdk_seen["SageMaker"]["TrainingJob"]["EnableNetworkIsolation"] is True
    # ... but the definition is the same as without it.
    assert hostile["definition"] == subprocess_builds["plain"]["definition"]
    assert "injected" not in hostile["definition"]
