"""Build the configured pipeline's definition offline: moonpipe's own, or any SDK module's.

The pipeline is a module written the MLOps template's way (``get_pipeline(region, role,
default_bucket, ...)``): moonpipe's own (pipeline/assembly/moonpipe.py) unless the config
names another (``--module-name``, ``--kwargs``). pipeline/assembly/modules.py builds it
offline, with every upload captured and every archive re-packed byte-reproducibly, so the
definition and its code artifacts are byte-identical for the same sources, in any process,
whatever TMPDIR, HOME or checkout folder (for moonpipe's own module; another module's code
keys carry the paths it gives the SDK, as on SageMaker): SageMaker's step caching keys on the
definition, and the store is write-once.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.assembly.modules import DEFAULT_MODULE, build_module
from pipeline.assembly.moonpipe import (
    ENTRYPOINTS_DIR,
    LOCAL_ROLE_ARN,
    STAGED_CODE,
    staged_code,
)
from pipeline.config import PipelineConfig
from pipeline.core.errors import ConfigError
from pipeline.core.records import PipelineDefinition

__all__ = ["LOCAL_ROLE_ARN", "STAGED_CODE", "build_pipeline", "staged_code"]


def build_pipeline(cfg: PipelineConfig, code_dir: Path | None = None) -> PipelineDefinition:
    """Build the config's pipeline and its definition JSON without touching the network.

    Args:
        cfg: the validated configuration (``cfg.module_name``/``module_kwargs``: the module).
        code_dir: moonpipe's entrypoints directory (tests point it elsewhere).

    Returns:
        The pipeline's name, description, definition JSON and every object the SDK uploaded
        while building it (code files and source tarballs) by s3:// URI.

    Raises:
        ConfigError: target is sagemaker and no role ARN is configured; the module cannot be
            built (see modules.build_module); its pipeline's name is not the one expected.
        MoonpipeError: an entrypoint script is missing.
    """
    role = cfg.require_role() if cfg.target == "sagemaker" else cfg.aws.role_arn
    module = cfg.module_name or DEFAULT_MODULE
    kwargs = json.loads(cfg.module_kwargs)
    if module == DEFAULT_MODULE and code_dir is not None and code_dir != ENTRYPOINTS_DIR:
        kwargs.setdefault("code_dir", str(code_dir))
    own = module == DEFAULT_MODULE
    built = build_module(
        cfg, module, kwargs, role or LOCAL_ROLE_ARN, cfg.pipeline.description if own else None
    )
    if cfg.module_name is not None and built.name != cfg.pipeline.name:
        raise ConfigError(
            f"--module-name {module}: get_pipeline() returned a pipeline named {built.name!r}, "
            f"not {cfg.pipeline.name!r} as its pipeline_name says; pass --kwargs "
            f'\'{{"pipeline_name": "{built.name}"}}\''
        )
    return built
