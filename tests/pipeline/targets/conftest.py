"""The SageMaker target's fixtures (moto server, Stubber) for every test module here."""

from tests.pipeline.targets.test_sagemaker import aws, moto_url, sm, target  # noqa: F401
