"""Wire the steps into the moonpipe pipeline and render its definition, offline.

The definition and the code artifacts are byte-identical for the same config and the same
entrypoint sources, in any process, whatever TMPDIR, HOME or checkout folder: SageMaker's step
caching keys on the definition, and the store is write-once. Three things would break that:

* the SDK's code S3 keys hash the *path string* of the code as given, besides its content:
  :func:`staged_code` copies the scripts to a fresh folder and the build runs with that folder
  as its working directory, handing the SDK the relative path ``entrypoints``;
* entrypoints/ collects ``__pycache__`` files whenever tests import them: only the top-level
  ``*.py`` files are staged;
* the SDK's ``sourcedir.tar.gz`` carries the build time, owners and directory order:
  every uploaded archive is re-packed by :func:`pipeline.assembly.archives.reproducible_artifact`.

The staging folder is removed when the build ends, whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.assembly.archives import reproducible_artifact
from pipeline.assembly.offline_sdk import (
    as_boto3_default,
    import_sdk,
    make_pipeline_session,
    quiet_sdk,
)
from pipeline.assembly.parameters import declare_parameters
from pipeline.config import PipelineConfig
from pipeline.core.errors import MoonpipeError
from pipeline.core.names import LOCAL_ACCOUNT
from pipeline.core.records import PipelineDefinition
from steps.condition import build_condition_step
from steps.context import BuildContext
from steps.data import build_data_step
from steps.deploy_gate import build_deploy_gate
from steps.deployment import build_deployment_steps
from steps.evaluation import build_evaluation_step
from steps.registration import build_model_steps
from steps.training import build_training_step

if TYPE_CHECKING:
    from pipeline.assembly.offline_sdk import OfflinePipelineSession

ENTRYPOINTS_DIR = Path(__file__).resolve().parents[2] / "entrypoints"
REQUIRED_SCRIPTS = ("preprocess.py", "train.py", "evaluate.py")
# The staged copy's name, relative to the build's working directory: it enters the code keys.
STAGED_CODE = Path("entrypoints")

# The role in definitions built for the local engine when none is configured. It is never
# sent anywhere: a sagemaker build requires a real one (PipelineConfig.require_role).
LOCAL_ROLE_ARN = f"arn:aws:iam::{LOCAL_ACCOUNT}:role/moonpipe-local-engine"


@contextlib.contextmanager
def staged_code(source_dir: Path = ENTRYPOINTS_DIR) -> Iterator[Path]:
    """Copy the top-level ``*.py`` of ``source_dir`` into a fresh folder, removed afterwards.

    Args:
        source_dir: the entrypoints directory.

    Yields:
        The staging root; the scripts are in its ``entrypoints/`` (:data:`STAGED_CODE`).

    Raises:
        MoonpipeError: a script the pipeline runs is missing.
    """
    for name in REQUIRED_SCRIPTS:
        if not (source_dir / name).is_file():
            raise MoonpipeError(
                f"{source_dir / name}: missing; the pipeline runs it, restore it from git"
            )
    root = Path(tempfile.mkdtemp(prefix="moonpipe-code-"))
    try:
        (root / STAGED_CODE).mkdir()
        for path in sorted(p for p in source_dir.glob("*.py") if p.is_file()):
            (root / STAGED_CODE / path.name).write_bytes(path.read_bytes())
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    """Run the block in ``path`` (contextlib.chdir needs Python 3.11; we support 3.10)."""
    saved = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(saved)


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
    with staged_code(code_dir) as root:
        import_sdk()
        with quiet_sdk(), _working_directory(root):
            return _build(cfg, STAGED_CODE, role or LOCAL_ROLE_ARN)


def _build(cfg: PipelineConfig, staged: Path, role_arn: str) -> PipelineDefinition:
    session = make_pipeline_session(cfg)
    with as_boto3_default(session):
        context = BuildContext(cfg, declare_parameters(cfg), session, staged, role_arn)
        return _assemble(context, session)


def _assemble(ctx: BuildContext, session: OfflinePipelineSession) -> PipelineDefinition:
    """Build every step, wire them, and render the definition (``session`` keeps the code
    the SDK uploads while rendering)."""
    from sagemaker.workflow.pipeline import Pipeline

    cfg = ctx.cfg

    data = build_data_step(ctx)
    training = build_training_step(ctx, data)
    evaluation, report = build_evaluation_step(ctx, data, training)
    register, create = build_model_steps(ctx, training, evaluation)
    endpoint_config, endpoint = build_deployment_steps(ctx, create)
    gate = build_deploy_gate(ctx, register, [create, endpoint_config, endpoint])
    check = build_condition_step(ctx, evaluation, report, [register, gate])
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
        artifacts={uri: reproducible_artifact(uri, body) for uri, body in session.uploads.items()},
    )
