"""AwsClients: the session, and what a person reads when the AWS configuration is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.errors import ConfigError
from pipeline.targets.sagemaker import SageMakerTarget


def test_a_missing_profile_is_one_config_error_saying_how_to_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_PROFILE", raising=False)
    monkeypatch.setenv("AWS_PROFILE", "ml")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    with pytest.raises(ConfigError) as caught:
        SageMakerTarget("eu-west-1", "moonpipe")
    assert str(caught.value) == (
        "AWS profile 'ml' (from AWS_PROFILE) is not in your AWS config or credentials files; "
        "create it (aws configure --profile ml) or unset AWS_PROFILE"
    )
    assert caught.value.exit_code == 2
