"""botocore's failures as one-line MoonpipeErrors."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from pipeline.core.errors import ConfigError, MoonpipeError
from pipeline.targets.sagemaker.errors import AwsError, translate


def client_error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "StartPipelineExecution")


@pytest.mark.parametrize(
    ("raised", "kind", "message"),
    [
        (
            NoCredentialsError(),
            ConfigError,
            "no AWS credentials found; configure a profile or set AWS_PROFILE",
        ),
        (
            EndpointConnectionError(endpoint_url="https://api.sagemaker.xx-1.amazonaws.com"),
            AwsError,
            "could not start pipeline moonpipe: cannot reach "
            "https://api.sagemaker.xx-1.amazonaws.com; check --region and the network",
        ),
        (
            client_error("ExpiredToken", "The security token included in the request is expired"),
            ConfigError,
            "AWS rejected the credentials (ExpiredToken) trying to start pipeline "
            "moonpipe; refresh them or set AWS_PROFILE",
        ),
        (
            client_error("AccessDeniedException", "User: x is not authorized\nto perform"),
            AwsError,
            "access denied trying to start pipeline moonpipe: User: x is not authorized "
            "to perform; check the role or profile's permissions",
        ),
        (
            client_error("ThrottlingException", "Rate exceeded"),
            AwsError,
            "could not start pipeline moonpipe: ThrottlingException: Rate exceeded",
        ),
    ],
)
def test_botocore_failures_become_one_line_errors(
    raised: Exception, kind: type[MoonpipeError], message: str
) -> None:
    with pytest.raises(kind) as caught, translate("start pipeline moonpipe"):
        raise raised
    assert str(caught.value) == message
