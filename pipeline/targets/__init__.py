"""Choose the Target for a config: the one place that knows both implementations.

Each implementation is imported only when chosen, so the local target never loads boto3
and the SageMaker target never loads the local engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from pipeline.targets.base import Target

TARGETS = ("local", "sagemaker")


def make_target(cfg: Any) -> Target:
    """The Target that ``cfg.target`` names, set up from the config.

    Args:
        cfg: a PipelineConfig (uses target, pipeline.name, aws.region, local.store_root).

    Raises:
        ConfigError: the target name is not one of TARGETS.
    """
    if cfg.target == "sagemaker":
        from pipeline.targets.sagemaker import SageMakerTarget

        return SageMakerTarget(region=cfg.aws.region, pipeline_name=cfg.pipeline.name)
    if cfg.target == "local":
        from pipeline.targets.local import LocalTarget

        local = cfg.local
        return LocalTarget(
            Path(local.store_root),
            region=cfg.aws.region,
            job_start=getattr(local, "job_start", "subprocess"),
            warm_idle_s=getattr(local, "warm_host_idle_s", 600.0),
            report_in_background=True,  # a person's run need not wait for the plots
        )
    raise ConfigError(
        f"unknown target {cfg.target!r}; use one of: {', '.join(TARGETS)} (--target or config)"
    )
