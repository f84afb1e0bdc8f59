"""The SageMaker target: SageMaker Pipelines through boto3 alone (see target.py)."""

from pipeline.targets.sagemaker.target import STEPS_UNAVAILABLE, SageMakerTarget

__all__ = ["STEPS_UNAVAILABLE", "SageMakerTarget"]
