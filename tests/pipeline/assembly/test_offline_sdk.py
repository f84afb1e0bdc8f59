"""The offline build session: no credentials, no SDK defaults, every S3 write captured."""

from __future__ import annotations

import io
import logging
import os

import pytest
from boto3.s3.transfer import TransferConfig

from pipeline.assembly.offline_sdk import (
    OfflineAws,
    _scoped_environ,
    as_boto3_default,
    call_without_telemetry,
    import_sdk,
    make_pipeline_session,
    quiet_sdk,
)
from pipeline.config import DEFAULT_CONFIG_PATH, PipelineConfig, load_config


@pytest.fixture(scope="module")
def cfg() -> PipelineConfig:
    return load_config(DEFAULT_CONFIG_PATH, {"bucket": "unit-bucket"}, {})


@pytest.fixture()
def session(cfg: PipelineConfig):  # type: ignore[no-untyped-def]
    return make_pipeline_session(cfg)


def test_session_has_no_credentials_and_no_sdk_defaults(  # type: ignore[no-untyped-def]
    session, cfg: PipelineConfig
) -> None:
    assert session.boto_session.get_credentials() is None
    assert session.sagemaker_config is None
    session.sagemaker_config = {"SchemaVersion": "1.0"}  # what the SDK does on init
    assert session.sagemaker_config is None
    assert session.boto_region_name == cfg.aws.region
    assert session.default_bucket_prefix == cfg.aws.prefix


def test_default_bucket_is_answered_offline(session) -> None:  # type: ignore[no-untyped-def]
    assert session.default_bucket() == "unit-bucket"


def test_put_object_is_captured(session) -> None:  # type: ignore[no-untyped-def]
    s3 = session.boto_session.client("s3")
    s3.put_object(Bucket="unit-bucket", Key="a/b.txt", Body=b"hello")
    assert session.uploads == {"s3://unit-bucket/a/b.txt": b"hello"}


def test_transfer_uploads_single_and_multipart_are_captured(session) -> None:  # type: ignore

    s3 = session.boto_session.client("s3")
    small, big = b"x" * 10, bytes(range(256)) * 30_000  # big: 7.7 MB, two 5 MB parts
    s3.upload_fileobj(io.BytesIO(small), "unit-bucket", "small")
    five_mb = 5 * 1024 * 1024
    multipart = TransferConfig(multipart_threshold=five_mb, multipart_chunksize=five_mb)
    s3.upload_fileobj(io.BytesIO(big), "unit-bucket", "big", Config=multipart)
    assert session.uploads == {"s3://unit-bucket/small": small, "s3://unit-bucket/big": big}


def test_any_other_aws_call_is_refused(session) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError) as caught:
        session.boto_session.client("sagemaker").list_pipelines()
    assert str(caught.value) == (
        "building the pipeline tried to call AWS (sagemaker.ListPipelines); a build stays "
        "offline: give what it looks up (the role, the bucket) as an argument"
    )
    # Session.default_bucket() without a bucket asks for the account: the local one answers
    identity = session.boto_session.client("sts").get_caller_identity()
    assert identity["Account"] == "000000000000"
    with pytest.raises(RuntimeError):
        session.boto_session.client("s3").get_object(Bucket="unit-bucket", Key="k")


def test_offline_aws_reads_streams() -> None:
    offline = OfflineAws("b")
    offline._s3_PutObject({"Bucket": "b", "Key": "k", "Body": io.BytesIO(b"data")})
    assert offline.objects == {"s3://b/k": b"data"}


def test_boto3_default_session_is_swapped_only_while_building(session) -> None:  # type: ignore
    import boto3

    before = boto3.DEFAULT_SESSION
    with as_boto3_default(session):
        assert boto3.DEFAULT_SESSION is session.boto_session
    assert boto3.DEFAULT_SESSION is before


def test_fit_is_telemetry_wrapped_so_the_bypass_matters() -> None:
    import_sdk()
    from sagemaker.estimator import EstimatorBase

    fit = EstimatorBase.__dict__["fit"]
    assert fit.__globals__["__name__"] == "sagemaker.telemetry.telemetry_logging"


def test_call_without_telemetry_skips_only_the_telemetry_layer() -> None:
    import_sdk()
    from sagemaker.telemetry.telemetry_logging import _telemetry_emitter

    calls: list[str] = []

    class Thing:
        sagemaker_session = object()  # truthy: the decorator would try to report

        @_telemetry_emitter(feature="ESTIMATOR_V2", func_name="thing.run")  # type: ignore
        def run(self, value: int) -> int:
            calls.append("run")
            return value * 2

    assert call_without_telemetry(Thing(), "run", 21) == 42
    assert calls == ["run"]
    with pytest.raises(TypeError) as caught:
        call_without_telemetry(Thing(), "__init__")
    assert str(caught.value) == "Thing.__init__ is not telemetry-wrapped"


def test_scoped_environ_restores_absent_and_present_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED", raising=False)
    monkeypatch.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", "/somewhere")
    scoped = {"AWS_EC2_METADATA_DISABLED": "true", "SAGEMAKER_USER_CONFIG_OVERRIDE": os.devnull}
    with _scoped_environ(scoped):
        assert os.environ["AWS_EC2_METADATA_DISABLED"] == "true"
        assert os.environ["SAGEMAKER_USER_CONFIG_OVERRIDE"] == os.devnull
    assert "AWS_EC2_METADATA_DISABLED" not in os.environ
    assert os.environ["SAGEMAKER_USER_CONFIG_OVERRIDE"] == "/somewhere"


def test_quiet_sdk_restores_the_logger_level() -> None:
    logger = logging.getLogger("sagemaker")
    logger.setLevel(logging.INFO)
    with quiet_sdk():
        assert logger.level == logging.ERROR
    assert logger.level == logging.INFO
    logger.setLevel(logging.NOTSET)


def test_sdk_import_makes_botocore_sessions_share_one_data_loader() -> None:
    """The SDK's own sessions must not each re-parse botocore's multi-MB JSON models."""
    import botocore.session

    import_sdk()
    first, second = botocore.session.Session(), botocore.session.Session()
    assert first.get_component("data_loader") is second.get_component("data_loader")
