"""moonpipe's own pipeline, as a module written the MLOps template's way.

``get_pipeline(region, role, default_bucket, pipeline_name, ...)`` returns the
``sagemaker.workflow.pipeline.Pipeline`` (AWS's SageMaker Projects "modelbuild" template's
convention), so the default build and ``--module-name`` of any other pipeline take the same
path (pipeline/assembly/modules.py). What makes it moonpipe's: it takes the loaded config
(``moonpipe_config``; without one it reads config/pipeline.yaml), and it keeps its code
artifacts independent of the machine that builds them:

* the SDK's code S3 keys hash the *path string* of the code as given, besides its content:
  :func:`staged_code` copies the scripts to a fresh folder and the build runs with that folder
  as its working directory, handing the SDK the relative path ``entrypoints``;
* entrypoints/ collects ``__pycache__`` files whenever tests import them: only the top-level
  ``*.py`` files are staged.

Both live until the definition is rendered: they are entered on the build's scope
(modules.build_scope), or, called outside a build, kept for the life of the process.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.assembly.modules import build_scope
from pipeline.assembly.offline_sdk import as_boto3_default, import_sdk, make_pipeline_session
from pipeline.assembly.parameters import declare_parameters
from pipeline.config import DEFAULT_CONFIG_PATH, PipelineConfig, load_config
from pipeline.core.errors import MoonpipeError
from pipeline.core.names import LOCAL_ACCOUNT
from steps.condition import build_condition_step
from steps.context import BuildContext
from steps.data import build_data_step
from steps.deploy_gate import build_deploy_gate
from steps.deployment import build_deployment_steps
from steps.evaluation import build_evaluation_step
from steps.registration import build_model_steps
from steps.training import build_training_step

if TYPE_CHECKING:
    from sagemaker.workflow.pipeline import Pipeline

    from pipeline.assembly.offline_sdk import OfflinePipelineSession

ENTRYPOINTS_DIR = Path(__file__).resolve().parents[2] / "entrypoints"
REQUIRED_SCRIPTS = ("preprocess.py", "train.py", "evaluate.py")
# The staged copy's name, relative to the build's working directory: it enters the code keys.
STAGED_CODE = Path("entrypoints")

# The role in definitions built for the local engine when none is configured. It is never
# sent anywhere: a sagemaker build requires a real one (PipelineConfig.require_role).
LOCAL_ROLE_ARN = f"arn:aws:iam::{LOCAL_ACCOUNT}:role/moonpipe-local-engine"
_OUTSIDE_A_BUILD = contextlib.ExitStack()
atexit.register(_OUTSIDE_A_BUILD.close)


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
def working_directory(path: Path) -> Iterator[None]:
    """Run the block in ``path`` (contextlib.chdir needs Python 3.11; we support 3.10)."""
    saved = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(saved)


def get_pipeline(
    region: str | None = None,
    role: str | None = None,
    default_bucket: str | None = None,
    pipeline_name: str | None = None,
    moonpipe_config: PipelineConfig | None = None,
    code_dir: str | None = None,
) -> Pipeline:
    """The moonpipe pipeline (the template's signature; every argument optional).

    Args:
        region: the AWS region (default: the config's).
        role: the execution role ARN (default: the config's, or a local stand-in).
        default_bucket: the bucket for code and data (default: the config's).
        pipeline_name: the pipeline's name (default: the config's pipeline.name).
        moonpipe_config: the loaded config (default: config/pipeline.yaml, environment
            applied).
        code_dir: the entrypoints folder (default: the repository's; tests point elsewhere).

    Returns:
        The Pipeline; its code is staged until the definition is rendered.

    Raises:
        MoonpipeError: an entrypoint script is missing.
    """
    cfg = moonpipe_config or load_config(DEFAULT_CONFIG_PATH, environ=os.environ)
    cfg = replace(
        cfg,
        aws=replace(
            cfg.aws,
            region=region or cfg.aws.region,
            bucket=default_bucket or cfg.aws.bucket,
            role_arn=role or cfg.aws.role_arn,
        ),
        pipeline=replace(cfg.pipeline, name=pipeline_name or cfg.pipeline.name),
    )
    scope = build_scope() or _OUTSIDE_A_BUILD
    root = scope.enter_context(staged_code(Path(code_dir) if code_dir else ENTRYPOINTS_DIR))
    import_sdk()
    scope.enter_context(working_directory(root))
    session = make_pipeline_session(cfg)
    scope.enter_context(as_boto3_default(session))
    context = BuildContext(
        cfg, declare_parameters(cfg), session, STAGED_CODE, cfg.aws.role_arn or LOCAL_ROLE_ARN
    )
    return _assemble(context, session)


def _assemble(ctx: BuildContext, session: OfflinePipelineSession) -> Pipeline:
    """Build every step and wire them into the Pipeline."""
    from sagemaker.workflow.pipeline import Pipeline

    data = build_data_step(ctx)
    training = build_training_step(ctx, data)
    evaluation, report = build_evaluation_step(ctx, data, training)
    register, create = build_model_steps(ctx, training, evaluation)
    endpoint_config, endpoint = build_deployment_steps(ctx, create)
    gate = build_deploy_gate(ctx, register, [create, endpoint_config, endpoint])
    check = build_condition_step(ctx, evaluation, report, [register, gate])
    return Pipeline(
        name=ctx.cfg.pipeline.name,
        parameters=ctx.params.all(),
        steps=[data, training, evaluation, check],
        sagemaker_session=session,
    )
