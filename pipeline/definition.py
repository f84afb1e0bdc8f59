"""Wire the steps into the moonpipe pipeline and render its definition, offline.

The definition is byte-identical for the same config and the same entrypoint sources, in
any process: SageMaker's step caching keys on it. Two things would break that and are
handled by :func:`stage_code`: the SDK's code keys hash the *path* of the code as well as
its content, and entrypoints/ collects ``__pycache__`` files whenever tests import them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from pipeline.config import PipelineConfig
from pipeline.errors import MoonpipeError
from pipeline.parameters import declare_parameters
from pipeline.session import as_boto3_default, import_sdk, make_pipeline_session, quiet_sdk
from pipeline.target import PipelineDefinition
from steps.condition import build_condition_step
from steps.context import StepContext
from steps.data import build_data_step
from steps.deployment import build_deployment_steps
from steps.evaluation import build_evaluation_step
from steps.registration import build_model_steps
from steps.training import build_training_step

ENTRYPOINTS_DIR = Path(__file__).resolve().parent.parent / "entrypoints"
REQUIRED_SCRIPTS = ("preprocess.py", "train.py", "evaluate.py")

# The role in definitions built for the local engine when none is configured. It is never
# sent anywhere: a sagemaker build requires a real one (PipelineConfig.require_role).
LOCAL_ROLE_ARN = "arn:aws:iam::000000000000:role/moonpipe-local-engine"

# Staged files get this mtime so tarballs of the same sources have the same member headers.
_FIXED_MTIME = 946684800  # 2000-01-01T00:00:00Z


def stage_code(source_dir: Path = ENTRYPOINTS_DIR) -> Path:
    """Copy the top-level ``*.py`` of ``source_dir`` to a content-addressed directory.

    The directory name is derived from the files' names and bytes only, so the same sources
    give the same path (hence the same SDK code hash and S3 key) in every process and from
    every checkout, and no cache files or editor leftovers are uploaded.

    Args:
        source_dir: the entrypoints directory.

    Returns:
        ``<tmp>/moonpipe-code-<digest>/entrypoints``, created atomically if missing.

    Raises:
        MoonpipeError: a script the pipeline runs is missing.
    """
    for name in REQUIRED_SCRIPTS:
        if not (source_dir / name).is_file():
            raise MoonpipeError(
                f"{source_dir / name}: missing; the pipeline runs it, restore it from git"
            )
    files = sorted(p for p in source_dir.glob("*.py") if p.is_file())
    digest = hashlib.sha256()
    for path in files:
        data = path.read_bytes()
        digest.update(f"{path.name}\0{len(data)}\0".encode() + data)
    root = Path(tempfile.gettempdir()) / f"moonpipe-code-{digest.hexdigest()[:24]}"
    if not root.is_dir():
        _write_staged(files, root)
    return root / "entrypoints"


def _write_staged(files: list[Path], root: Path) -> None:
    """Write the staging directory under a temporary name, then rename it into place."""
    scratch = Path(tempfile.mkdtemp(prefix=root.name + ".", dir=root.parent))
    try:
        target = scratch / "entrypoints"
        target.mkdir()
        for path in files:
            copy = target / path.name
            copy.write_bytes(path.read_bytes())
            os.utime(copy, (_FIXED_MTIME, _FIXED_MTIME))
        os.rename(scratch, root)
    except OSError:
        if not root.is_dir():  # a concurrent build may have won the rename race
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def build_pipeline(cfg: PipelineConfig, code_dir: Path = ENTRYPOINTS_DIR) -> PipelineDefinition:
    """Build the moonpipe pipeline and its definition JSON without touching the network.

    Args:
        cfg: the validated configuration.
        code_dir: the entrypoints directory (tests point it elsewhere).

    Returns:
        The pipeline's name, description, definition JSON and every object the SDK uploaded
        while building (code files and the training source tarball) by s3:// URI.

    Raises:
        ConfigError: target is sagemaker and no role ARN is configured.
        MoonpipeError: an entrypoint script is missing.
    """
    role = cfg.require_role() if cfg.target == "sagemaker" else cfg.aws.role_arn
    staged = stage_code(code_dir)
    import_sdk()
    with quiet_sdk():
        return _build(cfg, staged, role or LOCAL_ROLE_ARN)


def _build(cfg: PipelineConfig, staged: Path, role_arn: str) -> PipelineDefinition:
    session = make_pipeline_session(cfg)
    with as_boto3_default(session):
        return _assemble(StepContext(cfg, declare_parameters(cfg), session, staged, role_arn))


def _assemble(ctx: StepContext) -> PipelineDefinition:
    """Build every step, wire them, and render the definition."""
    from sagemaker.workflow.pipeline import Pipeline

    cfg, session = ctx.cfg, ctx.session

    data = build_data_step(ctx)
    training = build_training_step(ctx, data)
    evaluation, report = build_evaluation_step(ctx, data, training)
    register, create = build_model_steps(ctx, training, evaluation)
    endpoint_config, endpoint = build_deployment_steps(ctx, create)
    check = build_condition_step(
        ctx, evaluation, report, [register, create, endpoint_config, endpoint]
    )
    pipeline = Pipeline(
        name=cfg.pipeline.name,
        parameters=ctx.params.all(),
        steps=[data, training, evaluation, check],
        sagemaker_session=session,
    )
    definition = pipeline.definition()
    return PipelineDefinition(
        name=cfg.pipeline.name,
        description=cfg.pipeline.description,
        definition=definition,
        artifacts=session.uploads,
    )
