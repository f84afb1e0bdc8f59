"""Load and validate config/pipeline.yaml into frozen dataclasses.

Everything is checked before anything is built or sent: an unknown key, a missing key, a
wrong type or a malformed name is one ``ConfigError`` line naming where the value came from
(file, flag or environment variable), the key, the problem and the value.

The schema is the dataclasses below: each leaf field carries its check in
``field(metadata=...)``, and one generic walker (:func:`_build`) applies them. Adding a
setting is one line in a dataclass and one line in the YAML file.

Precedence is flag > environment > file. Environment variables: ``AWS_REGION`` then
``AWS_DEFAULT_REGION`` (boto3's own names, so a shell set up for the AWS CLI just works) for
the region, and ``MOONPIPE_ROLE_ARN`` for the role. The role variable is namespaced to this
project on purpose: a generic ``SAGEMAKER_ROLE_ARN`` left over from another project should
not silently decide which role runs our jobs.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from pipeline.config_checks import (
    Check,
    Invalid,
    boolean,
    directory,
    integer,
    matching,
    number,
    one_of,
    optional,
)
from pipeline.core import yaml_cache
from pipeline.core.errors import ConfigError, ParameterError
from pipeline.core.names import (
    ISO_DURATION,
    PIPELINE_NAME,
    PIPELINE_NAME_TEXT,
    RESOURCE_NAME,
    RESOURCE_NAME_TEXT,
)
from pipeline.core.parameters import coerce_value

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "config" / "pipeline.yaml"

ROLE_ENV_VAR = "MOONPIPE_ROLE_ARN"
REGION_ENV_VARS = ("AWS_REGION", "AWS_DEFAULT_REGION")
TARGETS = ("local", "sagemaker")  # the only list of target names (--target, config, make_target)


def _(check: Check) -> dict[str, Check]:
    """Field metadata: the leaf is validated by ``check`` (keeps the schema one line a key)."""
    return {"check": check}


_RESOURCE = matching(RESOURCE_NAME, RESOURCE_NAME_TEXT)
_REGION = matching(r"[a-z]{2}(-[a-z]+)+-\d{1,2}", "an AWS region like us-east-1")
_ROLE = matching(
    r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}",
    "an IAM role ARN like arn:aws:iam::123456789012:role/MoonpipeSageMaker",
)
_BUCKET = matching(
    r"(?!\d+\.\d+\.\d+\.\d+$)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
    "an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens)",
)
_PREFIX = matching(
    r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*", "an S3 key prefix like moonpipe or team/moonpipe"
)
_INSTANCE = matching(r"ml\.[a-z0-9-]+\.[a-z0-9]+", "a SageMaker instance type like ml.m5.large")
_DURATION = matching(ISO_DURATION, "an ISO 8601 duration like P30D or PT12H")
_SEED = integer(0, 2**32 - 1)
_PIPELINE_NAME = matching(PIPELINE_NAME, PIPELINE_NAME_TEXT)
_IMAGE_VERSION = matching(r"\d+\.\d+-\d+", "an image version like 1.2-1")
_APPROVAL = one_of("Approved", "PendingManualApproval", "Rejected")
_VERSION = matching(r"\d+\.\d+(\.\d+)?", "a version like 2.6.0")


@dataclass(frozen=True)
class PipelineSection:
    name: str = field(metadata=_(_PIPELINE_NAME))
    description: str = field(metadata=_(matching(r"(?s).{1,3072}", "1-3072 characters")))


@dataclass(frozen=True)
class AwsSection:
    region: str = field(metadata=_(_REGION))
    role_arn: str | None = field(metadata=_(optional(_ROLE)))
    bucket: str = field(metadata=_(_BUCKET))
    prefix: str = field(metadata=_(_PREFIX))


@dataclass(frozen=True)
class LocalSection:
    store_root: Path = field(metadata=_(directory))
    job_start: str = field(metadata=_(one_of("warm", "subprocess")))
    warm_host_idle_s: float = field(metadata=_(number(1.0, 86400.0)))


@dataclass(frozen=True)
class FrameworksSection:
    pytorch_version: str = field(metadata=_(_VERSION))
    python_version: str = field(metadata=_(matching(r"py3\d{1,2}", "a Python tag like py312")))
    sklearn_version: str = field(metadata=_(_IMAGE_VERSION))


@dataclass(frozen=True)
class InstancesSection:
    processing: str = field(metadata=_(_INSTANCE))
    training: str = field(metadata=_(_INSTANCE))
    endpoint: str = field(metadata=_(_INSTANCE))


@dataclass(frozen=True)
class DataSection:
    num_points: int = field(metadata=_(integer(10, 1_000_000)))
    noise: float = field(metadata=_(number(0.0, 10.0)))
    test_size: float = field(metadata=_(number(0.0, 1.0, open_low=True, open_high=True)))
    seed: int = field(metadata=_(_SEED))
    split_seed: int = field(metadata=_(_SEED))


@dataclass(frozen=True)
class TrainingSection:
    hidden_dim: int = field(metadata=_(integer(1, 4096)))
    epochs: int = field(metadata=_(integer(1, 100_000)))
    learning_rate: float = field(metadata=_(number(0.0, 10.0, open_low=True)))
    batch_size: int = field(metadata=_(integer(1, 1_000_000)))
    seed: int = field(metadata=_(_SEED))


@dataclass(frozen=True)
class EvaluationSection:
    accuracy_threshold: float = field(metadata=_(number(0.0, 1.0)))


@dataclass(frozen=True)
class RegistrySection:
    model_package_group: str = field(metadata=_(_RESOURCE))
    approval_status: str = field(metadata=_(_APPROVAL))


@dataclass(frozen=True)
class EndpointSection:
    name: str = field(metadata=_(_RESOURCE))


@dataclass(frozen=True)
class CachingSection:
    enabled: bool = field(metadata=_(boolean))
    expire_after: str = field(metadata=_(_DURATION))


@dataclass(frozen=True)
class PipelineConfig:
    """The whole validated configuration; ``source`` is the file it came from."""

    target: str = field(metadata=_(one_of(*TARGETS)))
    pipeline: PipelineSection
    aws: AwsSection
    local: LocalSection
    frameworks: FrameworksSection
    instances: InstancesSection
    data: DataSection
    training: TrainingSection
    evaluation: EvaluationSection
    registry: RegistrySection
    endpoint: EndpointSection
    caching: CachingSection
    source: Path = field(default=DEFAULT_CONFIG_PATH, metadata={"internal": True})
    # --module-name / --kwargs (JSON text): the pipeline module to build; None: moonpipe's own
    module_name: str | None = field(default=None, metadata={"internal": True})
    module_kwargs: str = field(default="{}", metadata={"internal": True})

    def require_role(self) -> str:
        """The role ARN, or a ConfigError saying how to give one (call before an upsert)."""
        if self.aws.role_arn is None:
            raise missing_role(_shown(self.source))
        return self.aws.role_arn

    def shown_source(self) -> str:
        """The config file as messages name it (the SageMaker target's missing-role error)."""
        return _shown(self.source)


# moonpipe's own pipeline parameters -> (their type, the config key whose default and range
# they share). A --param value outside the key's documented range is refused before
# anything starts, instead of failing inside a job (Epochs=0, HiddenDim=-5).
PARAMETER_SETTINGS: dict[str, tuple[str, str]] = {
    "NumPoints": ("Integer", "data.num_points"),
    "Noise": ("Float", "data.noise"),
    "TestSize": ("Float", "data.test_size"),
    "DataSeed": ("Integer", "data.seed"),
    "SplitSeed": ("Integer", "data.split_seed"),
    "HiddenDim": ("Integer", "training.hidden_dim"),
    "Epochs": ("Integer", "training.epochs"),
    "LearningRate": ("Float", "training.learning_rate"),
    "BatchSize": ("Integer", "training.batch_size"),
    "TrainSeed": ("Integer", "training.seed"),
    "AccuracyThreshold": ("Float", "evaluation.accuracy_threshold"),
}  # names, approval statuses and instance types: the API gate checks them, in SageMaker's words


def check_own_parameters(overrides: Mapping[str, str]) -> None:
    """Refuse a ``--param`` value of moonpipe's own parameters outside its documented range
    (the range of the config key it shares, see :data:`PARAMETER_SETTINGS`).

    A value that is not even of the parameter's type is left to the start's own check
    (pipeline.core.parameters), which says so against the stored definition.

    Raises:
        ParameterError: one line naming the flag, the range and where it is documented.
    """
    for name, raw in overrides.items():
        if name not in PARAMETER_SETTINGS:
            continue
        kind, dotted = PARAMETER_SETTINGS[name]
        try:
            value = coerce_value(name, kind, raw)
        except ParameterError:
            continue
        try:
            _leaf_check(dotted)(value)
        except Invalid as problem:
            raise ParameterError(
                f"--param {name}={raw}: {name} {problem} (the range of {dotted}, "
                "see the parameter table in the README)"
            ) from None


def _leaf_check(dotted: str) -> Check:
    """The check the schema gives the config key ``dotted`` (e.g. training.epochs)."""
    section, key = dotted.split(".")
    cls = get_type_hints(PipelineConfig)[section]
    spec = next(f for f in dataclasses.fields(cls) if f.name == key)
    check: Check = spec.metadata["check"]
    return check


def missing_role(config_file: str) -> ConfigError:
    """The one wording of "no role" (the config check and SageMakerTarget.upsert_pipeline)."""
    return ConfigError(
        "aws.role_arn: target sagemaker needs the IAM role SageMaker runs the "
        f"pipeline's jobs as; pass --role-arn, set {ROLE_ENV_VAR}, or set "
        f"aws.role_arn in {config_file}"
    )


# (dotted key, flag name, environment variables in order of precedence)
_OVERRIDABLE: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("target", "target", ()),
    ("aws.region", "region", REGION_ENV_VARS),
    ("aws.bucket", "bucket", ()),
    ("aws.role_arn", "role_arn", (ROLE_ENV_VAR,)),
    ("local.store_root", "store_root", ()),
    ("local.job_start", "job_start", ("MOONPIPE_JOB_START",)),
)


def load_config(
    path: Path,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> PipelineConfig:
    """Read, merge and validate the configuration.

    Args:
        path: the YAML file (usually ``DEFAULT_CONFIG_PATH``).
        overrides: the CLI's values by name (target, region, bucket, role_arn, store_root);
            None means "not given".
        environ: the environment to read (``os.environ`` when None is passed by the CLI,
            an explicit mapping in tests).
        cwd: where the command stands (default: the working directory); a relative store
            root is found from there (:func:`find_store`).

    Returns:
        The validated, frozen configuration; ``local.store_root`` is absolute.

    Raises:
        ConfigError: one line naming the source, the key and the problem.
    """
    shown = _shown(path)
    raw = _read_yaml(path, shown)
    origins = _apply_overrides(raw, overrides or {}, environ or {})
    config = _build(PipelineConfig, raw, "", shown, origins)
    here = Path.cwd() if cwd is None else cwd
    given = config.local.store_root
    if "local.store_root" in origins:  # a flag's path is relative to where the command stands
        store = given if given.is_absolute() else here / given
    else:
        store = find_store(given, path, here)
    local = dataclasses.replace(config.local, store_root=Path(os.path.abspath(store)))
    return dataclasses.replace(config, local=local, source=path)


def project_of(config_file: Path) -> Path:
    """The project a config file belongs to: the folder holding its ``config/`` folder (the
    shipped layout), else the file's own folder."""
    folder = Path(os.path.abspath(config_file)).parent
    return folder.parent if folder.name == "config" else folder


def find_store(store_root: Path, config_file: Path, start: Path) -> Path:
    """Where a relative ``local.store_root`` is, found the way git finds its repository.

    From ``start`` up: the first folder that holds a store of that name already, or the
    config's project (the walk stops there); from outside the project, the project's store.
    So every command finds the same store wherever it stands in the project, and a store
    made elsewhere on purpose (``--store``, then worked in) is found from inside it.
    """
    if store_root.is_absolute():
        return store_root
    project = project_of(config_file)
    here = Path(os.path.abspath(start))
    for folder in (here, *here.parents):
        if (folder / store_root).is_dir():
            return folder / store_root
        if folder == project:
            break
    return project / store_root


def _shown(path: Path) -> str:
    """The path as a person would type it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _read_yaml(path: Path, shown: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{shown}: cannot read the config file: {reason}") from None
    try:
        data = yaml_cache.load(text)
    except Exception as exc:
        import yaml  # loaded by then: only a parse raises

        if not isinstance(exc, yaml.YAMLError):
            raise
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "malformed"
        raise ConfigError(f"{shown}: not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{shown}: must be a mapping of settings, got {type(data).__name__}")
    return data


def _apply_overrides(
    raw: dict[str, Any], overrides: Mapping[str, Any], environ: Mapping[str, str]
) -> dict[str, str]:
    """Write flag and environment values into ``raw``; return dotted key -> where it came from."""
    origins: dict[str, str] = {}
    for dotted, flag, env_names in _OVERRIDABLE:
        value, origin = overrides.get(flag), "--" + flag.replace("_", "-")
        if value is None:
            value, origin = next(((environ[n], n) for n in env_names if environ.get(n)), (None, ""))
        if value is None:
            continue
        section, _sep, key = dotted.rpartition(".")
        into = raw.setdefault(section, {}) if section else raw  # the mapping the key is in
        if isinstance(into, dict):
            into[key] = str(value) if isinstance(value, Path) else value
            origins[dotted] = origin
    return origins


def _build(cls: type, raw: Any, prefix: str, shown: str, origins: Mapping[str, str]) -> Any:
    """Construct dataclass ``cls`` from ``raw``, checking every key against the schema."""
    where = prefix.rstrip(".") or "top level"
    if not isinstance(raw, dict):
        raise ConfigError(f"{shown}: {where}: must be a mapping, got {raw!r}")
    hints = get_type_hints(cls)
    schema = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    unknown = sorted(str(k) for k in set(raw) - set(schema))
    if unknown:
        raise ConfigError(
            f"{shown}: {prefix}{unknown[0]}: unknown key; expected one of " + ", ".join(schema)
        )
    values: dict[str, Any] = {}
    for name, spec in schema.items():
        dotted = prefix + name
        if name not in raw:
            raise ConfigError(f"{shown}: {dotted}: missing")
        if dataclasses.is_dataclass(hints[name]):
            values[name] = _build(hints[name], raw[name], dotted + ".", shown, origins)
            continue
        try:
            values[name] = spec.metadata["check"](raw[name])
        except Invalid as problem:
            source = origins.get(dotted, shown)
            raise ConfigError(f"{source}: {dotted}: {problem}, got {raw[name]!r}") from None
    return cls(**values)
