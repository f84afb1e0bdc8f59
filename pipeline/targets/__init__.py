"""Choose the Target for a config: the one place that knows both implementations.

Each implementation is imported only when chosen, so the local target never loads boto3
and the SageMaker target never loads the local engine.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.config import PipelineConfig
from pipeline.core.records import LineListener, ReportKeeper
from pipeline.targets.base import Target


def make_target(
    cfg: PipelineConfig,
    on_line: LineListener | None = None,
    reports: ReportKeeper | None = None,  # TEMP until engine-runner merge: not used yet
) -> Target:
    """The Target that ``cfg.target`` names, set up from the config.

    Args:
        cfg: a PipelineConfig (uses target, pipeline.name, aws.region, local.store_root).
        on_line: gets every line a local job prints, as it prints it (--follow).

    ``cfg.target`` is one of pipeline.config.TARGETS: the config check refused any other.
    """
    if cfg.target == "sagemaker":
        from pipeline.targets.sagemaker import SageMakerTarget

        return SageMakerTarget(region=cfg.aws.region, pipeline_name=cfg.pipeline.name)
    from pipeline.targets.local import LocalTarget

    local = cfg.local
    return LocalTarget(
        Path(local.store_root),
        region=cfg.aws.region,
        on_line=on_line,
        job_start=getattr(local, "job_start", "subprocess"),
        warm_idle_s=getattr(local, "warm_host_idle_s", 600.0),
        report="background",  # a person's run need not wait for the plots
    )
