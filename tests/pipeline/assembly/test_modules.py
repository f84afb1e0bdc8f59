"""--module-name: a pipeline module written the MLOps template's way builds offline, every
upload captured and every archive byte-reproducible, and runs with every other flag.

The module is the template's shape (tests/template_module.py: its own boto3 and SageMaker
sessions, ``get_pipeline(region, sagemaker_project_arn=None, role=None, default_bucket=None,
pipeline_name=..., ...)``), written under each test's folder and imported from there.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.assembly import module_names
from pipeline.assembly.builder import build_pipeline
from pipeline.assembly.modules import build_module
from pipeline.config import DEFAULT_CONFIG_PATH, PipelineConfig, load_config
from pipeline.core.errors import ConfigError
from tests.cli_runner import REPO, local_cli_env
from tests.template_module import MODULE, forget_template_module, write_template_module

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution"


@pytest.fixture(autouse=True)
def _fresh_module() -> Iterator[None]:
    yield
    forget_template_module()


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder the module is run from (the working directory: first on the path)."""
    folder = tmp_path / "project"
    write_template_module(folder)
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture(scope="module")
def cfg() -> PipelineConfig:
    return load_config(DEFAULT_CONFIG_PATH, environ={})


def _digests(artifacts: dict[str, bytes]) -> dict[str, str]:
    return {uri: hashlib.sha256(body).hexdigest() for uri, body in artifacts.items()}


def test_the_template_module_builds_offline_with_every_upload_captured(
    root: Path, cfg: PipelineConfig
) -> None:
    built = build_module(cfg, MODULE, {"pipeline_name": "Tiny"}, ROLE)
    definition = json.loads(built.definition)
    assert built.name == "Tiny" and definition["Version"] == "2020-12-01"
    assert [s["Name"] for s in definition["Steps"]] == [
        "PrepareData",
        "TrainModel",
        "EvaluateModel",
        "CheckAccuracy",
    ]
    referenced = set(_s3_uris(definition))
    uploads = set(built.artifacts)
    assert {u for u in uploads if u.endswith(".py")} <= referenced  # processing code
    [tarball] = [u for u in uploads if u.endswith("sourcedir.tar.gz")]
    hyperparameters = definition["Steps"][1]["Arguments"]["HyperParameters"]
    assert json.loads(hyperparameters["sagemaker_submit_directory"]) == tarball
    assert all(u.startswith(f"s3://{cfg.aws.bucket}/") for u in uploads)


def _s3_uris(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for inner in value.values():
            yield from _s3_uris(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _s3_uris(inner)
    elif isinstance(value, str) and value.startswith("s3://"):
        yield value
    elif isinstance(value, str) and value.startswith('"s3://'):
        yield json.loads(value)


def test_a_rebuild_holds_the_same_bytes_at_the_same_keys_whatever_tmpdir(
    root: Path, cfg: PipelineConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = build_module(cfg, MODULE, {}, ROLE)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "elsewhere"))
    second = build_module(cfg, MODULE, {}, ROLE)
    assert second.definition == first.definition
    assert _digests(dict(second.artifacts)) == _digests(dict(first.artifacts))


BUILD_WITHOUT_NETWORK = textwrap.dedent(
    """
    import json, socket, sys
    attempts = []
    def refuse(*args, **kwargs):
        attempts.append(repr(args[1:] or args)[:200])
        raise OSError("network is off in this test")
    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.getaddrinfo = refuse
    from pipeline.config import DEFAULT_CONFIG_PATH, load_config
    from pipeline.assembly.modules import build_module
    cfg = load_config(DEFAULT_CONFIG_PATH, environ={})
    built = build_module(cfg, sys.argv[1], {}, sys.argv[2])
    print(json.dumps({"name": built.name, "uploads": len(built.artifacts), "attempts": attempts}))
    """
)


def test_the_build_opens_no_socket_and_reads_no_credentials(root: Path) -> None:
    env = {**local_cli_env(), "PYTHONPATH": str(REPO), "AWS_PROFILE": "no-such-profile"}
    done = subprocess.run(
        [sys.executable, "-c", BUILD_WITHOUT_NETWORK, MODULE, ROLE],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"name": "TinyPipeline", "uploads": 3, "attempts": []}


def test_the_name_is_known_without_importing_the_module(root: Path) -> None:
    assert module_names.module_pipeline_name(MODULE, {}) == "TinyPipeline"
    assert module_names.module_pipeline_name(MODULE, {"pipeline_name": "Other"}) == "Other"
    assert MODULE not in sys.modules


def test_moonpipe_is_such_a_module_and_its_definition_is_unchanged(
    cfg: PipelineConfig, tmp_path: Path
) -> None:
    code = tmp_path / "entrypoints"
    code.mkdir()
    for name in ("preprocess.py", "train.py", "evaluate.py", "network.py", "inference.py"):
        (code / name).write_text(f"print({name!r})\n")
    default = build_pipeline(cfg, code)
    explicit = build_module(
        cfg,
        "pipeline.assembly.moonpipe",
        {"code_dir": str(code)},
        "arn:aws:iam::000000000000:role/moonpipe-local-engine",
        cfg.pipeline.description,
    )
    assert (explicit.definition, dict(explicit.artifacts)) == (
        default.definition,
        dict(default.artifacts),
    )


BROKEN = {
    "nomain": "x = 1\n",
    "raises": (
        "def get_pipeline(region, role=None):\n    raise ValueError('no data for ' + region)\n"
    ),
    "notpipe": "def get_pipeline(region, role=None):\n    return {'Steps': []}\n",
    "calls": textwrap.dedent(
        """
        import boto3
        def get_pipeline(region, role=None, default_bucket=None):
            boto3.Session(region_name=region).client("sagemaker").list_pipelines()
        """
    ),
}


@pytest.mark.parametrize(
    ("module", "kwargs", "message"),
    [
        (
            "nowhere.pipeline",
            {},
            "--module-name nowhere.pipeline: no module named 'nowhere'; run from the folder "
            "that holds the package (it is first on the path), or pip install the package",
        ),
        (
            "broken.nomain",
            {},
            "--module-name broken.nomain: the module has no get_pipeline() function (the MLOps "
            "template's get_pipeline(region, role, default_bucket, ...) returning a Pipeline)",
        ),
        (
            MODULE,
            {"pipeline_nmae": "Typo"},
            f"--module-name {MODULE}: get_pipeline() got an unexpected keyword argument "
            "'pipeline_nmae'; it takes: region, sagemaker_project_arn, role, default_bucket, "
            "model_package_group_name, pipeline_name, base_job_prefix, "
            "processing_instance_type, training_instance_type",
        ),
        (
            "broken.raises",
            {},
            "--module-name broken.raises: get_pipeline() failed: ValueError: no data for us-east-1",
        ),
        (
            "broken.notpipe",
            {},
            "--module-name broken.notpipe: get_pipeline() returned dict, not a "
            "sagemaker.workflow.pipeline.Pipeline",
        ),
        (
            "broken.calls",
            {},
            "--module-name broken.calls: get_pipeline() failed: RuntimeError: building the "
            "pipeline tried to call AWS (sagemaker.ListPipelines); a build stays offline: give "
            "what it looks up (the role, the bucket) as an argument",
        ),
    ],
)
def test_a_module_that_cannot_be_built_is_one_line(
    root: Path, cfg: PipelineConfig, module: str, kwargs: dict[str, Any], message: str
) -> None:
    (root / "broken").mkdir()
    (root / "broken" / "__init__.py").write_text("")
    for name, source in BROKEN.items():
        (root / "broken" / f"{name}.py").write_text(source)
    with pytest.raises(ConfigError) as caught:
        build_module(cfg, module, kwargs, ROLE)
    assert str(caught.value) == message
    for name in [n for n in sys.modules if n == "broken" or n.startswith("broken.")]:
        del sys.modules[name]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{region: 1}",
            "--kwargs is not valid JSON (Expecting property name enclosed in double quotes at "
            """character 1); write an object, e.g. --kwargs '{"region": "us-east-1", """
            """"pipeline_name": "Abalone"}'""",
        ),
        (
            '["a"]',
            """--kwargs must be a JSON object of get_pipeline's arguments; got '["a"]'""",
        ),
    ],
)
def test_kwargs_must_be_a_json_object(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        module_names.parse_kwargs(text)
    assert str(caught.value) == message


# -- the CLI, in a fresh process, run from the project's folder -------------------------------


def _cli(root: Path, store: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(REPO / "run_pipeline.py"),
            "--target",
            "local",
            "--store",
            str(store),
            "--module-name",
            MODULE,
            "--kwargs",
            json.dumps({"pipeline_name": "Tiny"}),
            *flags,
        ],
        cwd=root,
        env=local_cli_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


@pytest.mark.e2e
def test_a_template_module_upserts_twice_unchanged_then_runs_with_the_other_flags(
    root: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    first = _cli(root, store, "--upsert")
    assert first.returncode == 0, first.stderr
    assert "pipeline Tiny stored on local as version 1" in first.stdout
    again = _cli(root, store, "--upsert")
    assert again.returncode == 0, again.stderr
    assert "pipeline Tiny unchanged on local (version 1 is this definition" in again.stdout
    run = _cli(root, store, "--start", "--wait", "--json", "--param", "Mode=large")
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["status"] == "Succeeded" and summary["pipeline_name"] == "Tiny"
    assert [s["name"] for s in summary["steps"]] == [
        "PrepareData",
        "TrainModel",
        "EvaluateModel",
        "CheckAccuracy",
    ]
    low = _cli(root, store, "--start", "--json", "--param", "Threshold=1.5")
    assert low.returncode == 1
    assert json.loads(low.stdout)["failure_reason"].startswith("accuracy ")
    assert json.loads(low.stdout)["failure_reason"].endswith(" is below 1.5")
    rerun = _cli(root, store, "--start", "--json", "--from-step", "EvaluateModel")
    assert rerun.returncode == 0, rerun.stderr
    assert [s["name"] for s in json.loads(rerun.stdout)["steps"]][-2:] == [
        "EvaluateModel",
        "CheckAccuracy",
    ]
    enum = _cli(root, store, "--start", "--param", "Mode=medium")
    assert (enum.returncode, enum.stderr.strip()) == (
        2,
        "error: parameter Mode takes one of its EnumValues: small, large; got 'medium'",
    )
    listed = _cli(root, store, "--list-executions", "--json")
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 3


@pytest.mark.e2e
def test_a_module_the_cli_cannot_build_exits_2_and_stores_nothing(
    root: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    bad = subprocess.run(
        [
            sys.executable,
            str(REPO / "run_pipeline.py"),
            "--store",
            str(store),
            "--module-name",
            MODULE,
            "--kwargs",
            "{pipeline_name: Tiny}",
            "--upsert",
        ],
        cwd=root,
        env=local_cli_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("error: --kwargs is not valid JSON")
    assert not (store / "pipelines").exists()
