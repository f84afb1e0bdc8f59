"""What every step builder needs, bundled so builder signatures stay short."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sagemaker.workflow.pipeline_context import PipelineSession
    from sagemaker.workflow.steps import CacheConfig

    from pipeline.config import PipelineConfig
    from pipeline.parameters import PipelineParameters

# Where a processing job's own failure message goes; SageMaker reports its first 1 KB.
FAILURE_FILE = "/opt/ml/output/message"


@dataclass(frozen=True)
class StepContext:
    """Inputs shared by all step builders.

    Attributes:
        cfg: the validated configuration.
        params: the pipeline parameters steps wire their arguments to.
        session: the offline PipelineSession (captures the requests, keeps the uploads).
        code_dir: the staged copy of entrypoints/ (only the scripts, fixed mtimes).
        role_arn: the IAM role every job runs as.
    """

    cfg: PipelineConfig
    params: PipelineParameters
    session: PipelineSession
    code_dir: Path
    role_arn: str

    def cache_config(self) -> CacheConfig:
        """Step caching as configured (data, training and evaluation use it)."""
        from sagemaker.workflow.steps import CacheConfig

        caching = self.cfg.caching
        return CacheConfig(enable_caching=caching.enabled, expire_after=caching.expire_after)

    def pytorch_image(self, scope: str, instance_type: str) -> str:
        """The PyTorch image URI for ``scope`` (training|inference) on ``instance_type``.

        Images are resolved for the instance type parameter's *default*: a CPU default gives a
        CPU image; choosing a GPU type per execution keeps the CPU image (documented in
        config/pipeline.yaml).
        """
        from sagemaker import image_uris

        fw = self.cfg.frameworks
        return image_uris.retrieve(
            framework="pytorch",
            region=self.cfg.aws.region,
            version=fw.pytorch_version,
            py_version=fw.python_version,
            instance_type=instance_type,
            image_scope=scope,
        )
