"""What every step builder needs (BuildContext), bundled so builder signatures stay short.

Named apart from the local engine's StepContext (pipeline/local/handlers/base.py), which is what
a step *handler* gets at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.core.errors import ConfigError

if TYPE_CHECKING:
    from sagemaker.workflow.pipeline_context import PipelineSession
    from sagemaker.workflow.steps import CacheConfig

    from pipeline.assembly.parameters import PipelineParameters
    from pipeline.config import PipelineConfig

# Where a processing job's own failure message goes; SageMaker reports its first 1 KB.
FAILURE_FILE = "/opt/ml/output/message"


def flag_arguments(pairs: list[tuple[str, Any]]) -> list[Any]:
    """``[(flag, value), ...]`` -> ``[flag, value, ...]``: a script's ContainerArguments.

    Written as pairs so each flag stays beside its value in the builders.
    """
    return [item for pair in pairs for item in pair]


@dataclass(frozen=True)
class BuildContext:
    """Inputs shared by all step builders.

    Attributes:
        cfg: the validated configuration.
        params: the pipeline parameters steps wire their arguments to.
        session: the offline PipelineSession (captures the requests, keeps the uploads).
        code_dir: the staged copy of entrypoints/, relative to the build's working directory.
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

        Raises:
            ConfigError: the SDK knows no such image in the configured region.
        """
        fw = self.cfg.frameworks
        return self._image(
            f"pytorch-{scope} {fw.pytorch_version} ({fw.python_version})",
            "pytorch_version",
            framework="pytorch",
            version=fw.pytorch_version,
            py_version=fw.python_version,
            instance_type=instance_type,
            image_scope=scope,
        )

    def sklearn_image(self, instance_type: str) -> str:
        """The scikit-learn processing image URI (SKLearnProcessor resolves the same one).

        Raises:
            ConfigError: the SDK knows no such image in the configured region.
        """
        version = self.cfg.frameworks.sklearn_version
        return self._image(
            f"sagemaker-scikit-learn {version}",
            "sklearn_version",
            framework="sklearn",
            version=version,
            instance_type=instance_type,
        )

    def _image(self, label: str, version_key: str, **lookup: str) -> str:
        """``image_uris.retrieve`` with its ValueError (a page of regions) as one line."""
        from sagemaker import image_uris

        region = self.cfg.aws.region
        try:
            return str(image_uris.retrieve(region=region, **lookup))
        except ValueError as err:
            reason = str(err).split(". ")[0].rstrip(".")
            raise ConfigError(
                f"aws.region {region}: SageMaker offers no {label} image there (SDK: {reason}); "
                f"choose a region that has it (--region or aws.region, e.g. us-east-1) "
                f"or another frameworks.{version_key}"
            ) from None
