"""Config loading: the shipped file, every kind of invalid input, and override precedence."""

# ruff: noqa: E501  (the error tables hold whole one-line messages, deliberately unwrapped)

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.config import DEFAULT_CONFIG_PATH, PipelineConfig, load_config
from pipeline.core.errors import ConfigError

ROLE = "arn:aws:iam::123456789012:role/MoonpipeSageMaker"


def _shipped() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def _with(dotted: str, value: Any) -> dict[str, Any]:
    data = _shipped()
    *sections, key = dotted.split(".")
    node = data
    for section in sections:
        node = node[section]
    node[key] = value
    return data


def test_shipped_config_loads_with_the_documented_defaults() -> None:
    cfg = load_config(DEFAULT_CONFIG_PATH, environ={})
    assert isinstance(cfg, PipelineConfig)
    assert cfg.target == "local"
    assert cfg.pipeline.name == "moonpipe"
    assert cfg.aws.role_arn is None
    assert cfg.local.store_root == DEFAULT_CONFIG_PATH.parent.parent / ".moonpipe"
    assert cfg.endpoint.name == "moonpipe-endpoint"
    assert (cfg.training.hidden_dim, cfg.training.epochs) == (20, 100)
    assert (cfg.data.num_points, cfg.data.noise, cfg.data.test_size) == (600, 0.25, 0.25)
    assert cfg.frameworks.pytorch_version == "2.6.0"
    assert cfg.frameworks.sklearn_version == "1.2-1"
    assert cfg.registry.approval_status == "Approved"
    assert cfg.source == DEFAULT_CONFIG_PATH


def test_config_is_frozen() -> None:
    cfg = load_config(DEFAULT_CONFIG_PATH, environ={})
    with pytest.raises(AttributeError):
        cfg.training.epochs = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("dotted", "value", "message"),
    [
        ("training.epochs", "ten", "training.epochs: must be an integer >= 1 and <= 100000, got 'ten'"),
        ("training.epochs", 0, "training.epochs: must be an integer >= 1 and <= 100000, got 0"),
        ("training.epochs", True, "training.epochs: must be an integer >= 1 and <= 100000, got True"),
        ("training.hidden_dim", 2.5, "training.hidden_dim: must be an integer >= 1 and <= 4096, got 2.5"),
        ("training.learning_rate", 0, "training.learning_rate: must be a number in (0.0, 10.0], got 0"),
        ("data.test_size", 1.0, "data.test_size: must be a number in (0.0, 1.0), got 1.0"),
        ("data.noise", float("nan"), "data.noise: must be a number in [0.0, 10.0], got nan"),
        ("evaluation.accuracy_threshold", 1.5, "evaluation.accuracy_threshold: must be a number in [0.0, 1.0], got 1.5"),
        ("target", "cloud", "target: must be one of local, sagemaker, got 'cloud'"),
        ("aws.region", "mars", "aws.region: must be an AWS region like us-east-1, got 'mars'"),
        ("aws.role_arn", "admin", "aws.role_arn: must be an IAM role ARN like arn:aws:iam::123456789012:role/MoonpipeSageMaker, got 'admin'"),
        ("aws.bucket", "My_Bucket", "aws.bucket: must be an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens), got 'My_Bucket'"),
        ("aws.bucket", "a..b", "aws.bucket: must be an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens), got 'a..b'"),
        ("aws.prefix", "/moonpipe/", "aws.prefix: must be an S3 key prefix like moonpipe or team/moonpipe, got '/moonpipe/'"),
        ("instances.training", "m5.large", "instances.training: must be a SageMaker instance type like ml.m5.large, got 'm5.large'"),
        ("frameworks.pytorch_version", 2.6, "frameworks.pytorch_version: must be a version like 2.6.0, got 2.6"),
        ("registry.approval_status", "approved", "registry.approval_status: must be one of Approved, PendingManualApproval, Rejected, got 'approved'"),
        ("endpoint.name", "moon_endpoint", "endpoint.name: must be 1-63 letters, digits and hyphens, starting with a letter or digit, got 'moon_endpoint'"),
        ("caching.enabled", "yes", "caching.enabled: must be true or false, got 'yes'"),
        ("caching.expire_after", "30 days", "caching.expire_after: must be an ISO 8601 duration like P30D or PT12H, got '30 days'"),
        ("caching.expire_after", "P", "caching.expire_after: must be an ISO 8601 duration like P30D or PT12H, got 'P'"),
        ("local.store_root", "", "local.store_root: must be a non-empty directory path, got ''"),
        ("local.job_start", "fork", "local.job_start: must be one of warm, subprocess, got 'fork'"),
        ("local.warm_host_idle_s", 0, "local.warm_host_idle_s: must be a number in [1.0, 86400.0], got 0"),
        ("training.epoch", 5, "training.epoch: unknown key; expected one of hidden_dim, epochs, learning_rate, batch_size, seed"),
        ("training", [1], "training: must be a mapping, got [1]"),
    ],
)  # fmt: skip
def test_invalid_values_are_one_line_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dotted: str, value: Any, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path, _with(dotted, value))
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(caught.value) == f"pipeline.yaml: {message}"


def test_missing_key_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    data = _shipped()
    del data["data"]["seed"]
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, data), environ={})
    assert str(caught.value) == "pipeline.yaml: data.seed: missing"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("target: [local\n", "pipeline.yaml: not valid YAML at line 2: expected ',' or ']', but got '<stream end>'"),
        ("- a\n- b\n", "pipeline.yaml: must be a mapping of settings, got list"),
        ("", "pipeline.yaml: must be a mapping of settings, got NoneType"),
    ],
)  # fmt: skip
def test_malformed_files_are_one_line_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, text), environ={})
    assert str(caught.value) == message


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "absent.yaml", environ={})
    assert (
        str(caught.value) == "absent.yaml: cannot read the config file: No such file or directory"
    )


def test_path_outside_the_working_directory_is_shown_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, _with("training.seed", -1))
    monkeypatch.chdir(DEFAULT_CONFIG_PATH.parent)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(caught.value) == (
        f"{path}: training.seed: must be an integer >= 0 and <= 4294967295, got -1"
    )


@pytest.mark.parametrize(
    ("flags", "environ", "expected"),
    [
        ({}, {}, "us-east-1"),
        ({}, {"AWS_DEFAULT_REGION": "eu-west-1"}, "eu-west-1"),
        ({}, {"AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-north-1"}, "eu-north-1"),
        ({"region": "ap-south-1"}, {"AWS_REGION": "eu-north-1"}, "ap-south-1"),
        ({"region": None}, {"AWS_REGION": "eu-north-1"}, "eu-north-1"),
    ],
)
def test_region_precedence_flag_then_env_then_file(
    flags: dict[str, Any], environ: dict[str, str], expected: str
) -> None:
    assert load_config(DEFAULT_CONFIG_PATH, flags, environ).aws.region == expected


def test_role_precedence_flag_then_env_then_file() -> None:
    other = "arn:aws:iam::210987654321:role/Other"
    env = {"MOONPIPE_ROLE_ARN": ROLE}
    assert load_config(DEFAULT_CONFIG_PATH, {}, env).aws.role_arn == ROLE
    assert load_config(DEFAULT_CONFIG_PATH, {"role_arn": other}, env).aws.role_arn == other
    unrelated = {"SAGEMAKER_ROLE_ARN": ROLE}
    assert load_config(DEFAULT_CONFIG_PATH, {}, unrelated).aws.role_arn is None


def test_job_start_comes_from_the_environment_then_the_file() -> None:
    assert load_config(DEFAULT_CONFIG_PATH, {}, {}).local.job_start == "warm"
    env = {"MOONPIPE_JOB_START": "subprocess"}
    assert load_config(DEFAULT_CONFIG_PATH, {}, env).local.job_start == "subprocess"
    with pytest.raises(ConfigError) as caught:
        load_config(DEFAULT_CONFIG_PATH, {}, {"MOONPIPE_JOB_START": "cold"})
    assert str(caught.value) == (
        "MOONPIPE_JOB_START: local.job_start: must be one of warm, subprocess, got 'cold'"
    )


def test_other_flags_override_the_file(tmp_path: Path) -> None:
    flags = {"target": "sagemaker", "bucket": "my-bucket", "store_root": tmp_path}
    cfg = load_config(DEFAULT_CONFIG_PATH, flags, {})
    assert (cfg.target, cfg.aws.bucket, cfg.local.store_root) == (
        "sagemaker",
        "my-bucket",
        tmp_path,
    )


@pytest.mark.parametrize(
    ("flags", "environ", "message"),
    [
        ({"region": "mars"}, {}, "--region: aws.region: must be an AWS region like us-east-1, got 'mars'"),
        ({}, {"AWS_REGION": "mars"}, "AWS_REGION: aws.region: must be an AWS region like us-east-1, got 'mars'"),
        ({"bucket": "B"}, {}, "--bucket: aws.bucket: must be an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens), got 'B'"),
        ({}, {"MOONPIPE_ROLE_ARN": "x"}, "MOONPIPE_ROLE_ARN: aws.role_arn: must be an IAM role ARN like arn:aws:iam::123456789012:role/MoonpipeSageMaker, got 'x'"),
    ],
)  # fmt: skip
def test_bad_overrides_name_their_source(
    flags: dict[str, Any], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(DEFAULT_CONFIG_PATH, flags, environ)
    assert str(caught.value) == message


def test_require_role(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(DEFAULT_CONFIG_PATH.parent.parent)
    cfg = load_config(DEFAULT_CONFIG_PATH, {"target": "sagemaker"}, {})
    with pytest.raises(ConfigError) as caught:
        cfg.require_role()
    assert str(caught.value) == (
        "aws.role_arn: target sagemaker needs the IAM role SageMaker runs the pipeline's jobs "
        "as; pass --role-arn, set MOONPIPE_ROLE_ARN, or set aws.role_arn in config/pipeline.yaml"
    )
    assert caught.value.exit_code == 2
    with_role = load_config(DEFAULT_CONFIG_PATH, {"role_arn": ROLE}, {})
    assert with_role.require_role() == ROLE


def _entrypoint_defaults(script: str) -> Any:
    """The argparse defaults of an entrypoint, read by importing it from its file (with its
    folder on the path, as in its container: train.py imports its neighbours)."""
    import importlib.util
    import sys

    path = DEFAULT_CONFIG_PATH.parent.parent / "entrypoints" / script
    spec = importlib.util.spec_from_file_location(f"moonpipe_defaults_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module.parse_args([])


def test_shipped_defaults_are_the_entrypoints_own_defaults() -> None:
    """Running a script by hand and running the pipeline with defaults must train the same model."""
    cfg = load_config(DEFAULT_CONFIG_PATH)
    train = _entrypoint_defaults("train.py")
    data = _entrypoint_defaults("preprocess.py")
    assert (
        cfg.training.hidden_dim,
        cfg.training.epochs,
        cfg.training.learning_rate,
        cfg.training.batch_size,
        cfg.training.seed,
    ) == (train.hidden_dim, train.epochs, train.lr, train.batch_size, train.seed)
    assert (
        cfg.data.num_points,
        cfg.data.noise,
        cfg.data.test_size,
        cfg.data.seed,
        cfg.data.split_seed,
    ) == (data.num_points, data.noise, data.test_size, data.seed, data.split_seed)


# -- the store is found the way git finds its repository ----------------------------------

REPO = DEFAULT_CONFIG_PATH.parent.parent


@pytest.mark.parametrize("where", ["pipeline", "pipeline/local/store", "config", "."])
def test_every_folder_of_the_project_finds_the_projects_store(
    monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """Issue 20: from pipeline/, --report said "no executions yet" and --start "run with
    --upsert first" (a second store in the working directory); the store is the project's
    wherever a command stands in it."""
    monkeypatch.chdir(REPO / where)
    assert load_config(DEFAULT_CONFIG_PATH, environ={}).local.store_root == REPO / ".moonpipe"


def test_a_store_in_a_folder_above_is_found_from_below(tmp_path: Path) -> None:
    (tmp_path / "work" / ".moonpipe").mkdir(parents=True)
    below = tmp_path / "work" / "a" / "b"
    below.mkdir(parents=True)
    config = _write(tmp_path / "work", _shipped())
    cfg = load_config(config, environ={}, cwd=below)
    assert cfg.local.store_root == tmp_path / "work" / ".moonpipe"


def test_outside_any_project_the_configs_project_keeps_the_store(tmp_path: Path) -> None:
    elsewhere = tmp_path / "empty"
    elsewhere.mkdir()
    cfg = load_config(DEFAULT_CONFIG_PATH, environ={}, cwd=elsewhere)
    assert cfg.local.store_root == REPO / ".moonpipe"
    assert not (elsewhere / ".moonpipe").exists()


def test_the_walk_stops_at_the_project(tmp_path: Path) -> None:
    """A store above the project is someone else's: the project's own is used."""
    (tmp_path / ".moonpipe").mkdir()
    project = tmp_path / "project"
    (project / "config").mkdir(parents=True)
    config = project / "config" / "pipeline.yaml"
    config.write_text(yaml.safe_dump(_shipped()))
    (project / "src").mkdir()
    cfg = load_config(config, environ={}, cwd=project / "src")
    assert cfg.local.store_root == project / ".moonpipe"


def test_a_store_flag_is_relative_to_where_the_command_stands(tmp_path: Path) -> None:
    cfg = load_config(DEFAULT_CONFIG_PATH, {"store_root": "mine"}, {}, cwd=tmp_path)
    assert cfg.local.store_root == tmp_path / "mine"


def test_an_absolute_store_root_in_the_file_is_kept(tmp_path: Path) -> None:
    config = _write(tmp_path, _with("local.store_root", str(tmp_path / "abs")))
    assert load_config(config, environ={}, cwd=REPO).local.store_root == tmp_path / "abs"


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("Epochs=0", "--param Epochs=0: Epochs must be an integer >= 1 and <= 100000 (the range of training.epochs, see the parameter table in the README)"),
        ("HiddenDim=-5", "--param HiddenDim=-5: HiddenDim must be an integer >= 1 and <= 4096 (the range of training.hidden_dim, see the parameter table in the README)"),
        ("TestSize=1", "--param TestSize=1: TestSize must be a number in (0.0, 1.0) (the range of data.test_size, see the parameter table in the README)"),
        ("AccuracyThreshold=1.5", "--param AccuracyThreshold=1.5: AccuracyThreshold must be a number in [0.0, 1.0] (the range of evaluation.accuracy_threshold, see the parameter table in the README)"),
    ],
)  # fmt: skip
def test_moonpipes_own_parameters_are_checked_against_their_documented_ranges(
    param: str, message: str
) -> None:
    from pipeline.config import check_own_parameters
    from pipeline.core.errors import ParameterError
    from pipeline.core.parameters import param_overrides

    with pytest.raises(ParameterError) as caught:
        check_own_parameters(param_overrides([param]))
    assert str(caught.value) == message
    assert caught.value.exit_code == 2


def test_values_in_range_and_other_pipelines_parameters_pass() -> None:
    from pipeline.config import check_own_parameters

    check_own_parameters({"Epochs": "1", "HiddenDim": "4096", "Unknown": "-5", "Epochs2": "0"})
    check_own_parameters({"HiddenDim": "ten"})  # the start's type check says so, not this


def test_every_range_checked_parameter_names_a_config_key() -> None:
    from pipeline.config import PARAMETER_SETTINGS, _leaf_check

    for _kind, dotted in PARAMETER_SETTINGS.values():
        assert callable(_leaf_check(dotted))
