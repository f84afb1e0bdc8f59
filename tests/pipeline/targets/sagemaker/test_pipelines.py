"""Pipelines: the role an upsert needs, and where its artifacts go."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from pipeline.config import DEFAULT_CONFIG_PATH, load_config
from pipeline.core.errors import ConfigError
from pipeline.core.records import PipelineDefinition
from pipeline.targets import make_target
from pipeline.targets.sagemaker import SageMakerTarget
from pipeline.targets.sagemaker.pipelines import artifact_location


def test_upsert_without_role_sends_nothing(target: SageMakerTarget, sm: Stubber) -> None:
    with pytest.raises(ConfigError) as caught:
        target.upsert_pipeline(PipelineDefinition("moonpipe", "d", "{}"), None)
    assert str(caught.value) == (  # the config check's wording: one rule, one message
        "aws.role_arn: target sagemaker needs the IAM role SageMaker runs the pipeline's jobs "
        "as; pass --role-arn, set MOONPIPE_ROLE_ARN, or set aws.role_arn in the config file"
    )


@pytest.mark.parametrize("uri", ["s3://bucket", "s3://bucket/", "http://bucket/key", "s3:///key"])
def test_artifact_location_needs_a_bucket_and_a_key(uri: str) -> None:
    assert artifact_location("s3://bucket/a/b.py") == ("bucket", "a/b.py")
    with pytest.raises(ConfigError) as caught:
        artifact_location(uri)
    assert str(caught.value) == f"artifact URI {uri!r} is not of the form s3://bucket/key"


def test_check_upsert_settings_names_the_config_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """The missing-role error is the config's own (one wording), naming the file it reads."""
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    cfg = load_config(DEFAULT_CONFIG_PATH, {"target": "sagemaker"}, {})
    target = make_target(cfg)
    with pytest.raises(ConfigError) as caught:
        target.check_upsert_settings(None)
    with pytest.raises(ConfigError) as expected:
        cfg.require_role()
    assert str(caught.value) == str(expected.value)
    assert str(caught.value).endswith(f"set aws.role_arn in {cfg.shown_source()}")
    assert caught.value.exit_code == 2
    target.check_upsert_settings("arn:aws:iam::123456789012:role/Test")  # nothing sent


def test_a_role_passes_the_check_without_a_call(target: SageMakerTarget, sm: Stubber) -> None:
    target.check_upsert_settings("arn:aws:iam::123456789012:role/Test")
    with pytest.raises(ConfigError):
        target.check_upsert_settings("")
