"""The SageMaker target's fixtures (moto server, Stubber) for every test module here."""

from tests.pipeline.targets.sagemaker.test_target import aws, moto_url, sm, target  # noqa: F401
