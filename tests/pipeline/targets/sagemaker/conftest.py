"""The SageMaker target's fixtures: a target on test credentials with its sagemaker client
stubbed (botocore's Stubber, no network), and a fresh account on the moto server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from pipeline.targets.sagemaker import SageMakerTarget
from tests.moto_aws import client, fresh_account
from tests.moto_aws import moto_url as moto_url
from tests.pipeline.targets.sagemaker.support import BUCKET


@pytest.fixture
def target() -> SageMakerTarget:
    session = boto3.Session(
        region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    return SageMakerTarget("us-east-1", "moonpipe", session=session, sleep=lambda s: None)


@pytest.fixture
def sm(target: SageMakerTarget) -> Iterator[Stubber]:
    with Stubber(target.clients.sm) as stub:
        yield stub
        stub.assert_no_pending_responses()


@pytest.fixture
def aws(moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh moto account with the bucket; test-only credentials in the environment."""
    env = fresh_account(moto_url, tmp_path, monkeypatch)
    client("s3").create_bucket(Bucket=BUCKET)
    return env
