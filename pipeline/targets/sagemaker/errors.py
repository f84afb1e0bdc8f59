"""SageMaker's and botocore's failures as one-line MoonpipeErrors that say what to do.

Every room of the SageMaker target wraps its calls in :func:`translate`, so a person never
sees a botocore traceback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)

from pipeline.core.errors import ConfigError, EndpointError, MoonpipeError

_BAD_CREDENTIALS = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
}


class AwsError(MoonpipeError):
    """SageMaker or S3 refused a request that was well formed on our side."""

    exit_code = 1


@contextmanager
def translate(action: str, not_found: MoonpipeError | None = None) -> Iterator[None]:
    """Turn botocore failures inside the block into one-line MoonpipeErrors."""
    try:
        yield
    except NoCredentialsError:
        raise ConfigError(
            "no AWS credentials found; configure a profile or set AWS_PROFILE"
        ) from None
    except ProfileNotFound as exc:
        raise profile_error(str(exc.kwargs.get("profile", ""))) from None
    except NoRegionError:
        raise ConfigError(
            "no AWS region set; set aws.region in the config or pass --region"
        ) from None
    except EndpointConnectionError as exc:
        url = exc.kwargs.get("endpoint_url", "the AWS endpoint")
        raise AwsError(
            f"could not {action}: cannot reach {url}; check --region and the network"
        ) from None
    except ClientError as exc:
        raise client_error(exc, action, not_found) from None
    except BotoCoreError as exc:
        raise AwsError(f"could not {action}: {one_line(str(exc))}") from None


def profile_error(profile: str) -> ConfigError:
    """The missing-profile error, naming where the profile name came from and the fix."""
    source = next((v for v in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE") if os.environ.get(v)), None)
    origin = f" (from {source})" if source else ""
    return ConfigError(
        f"AWS profile {profile!r}{origin} is not in your AWS config or credentials files; "
        f"create it (aws configure --profile {profile}) or "
        + (f"unset {source}" if source else "choose an existing profile")
    )


def client_error(
    exc: ClientError, action: str, not_found: MoonpipeError | None = None
) -> MoonpipeError:
    """The MoonpipeError for one ClientError, by its error code."""
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code", "")), one_line(str(error.get("Message", "")))
    if not_found is not None and is_not_found(code, message):
        return not_found
    if code in _BAD_CREDENTIALS:
        return ConfigError(
            f"AWS rejected the credentials ({code}) trying to {action}; "
            "refresh them or set AWS_PROFILE"
        )
    if code in {"AccessDenied", "AccessDeniedException"}:
        return AwsError(
            f"access denied trying to {action}: {message}; check the role or profile's permissions"
        )
    if code == "ModelError":
        status = exc.response.get("OriginalStatusCode", "")
        detail = one_line(str(exc.response.get("OriginalMessage", message)))
        return EndpointError(f"the model refused the request ({status}): {detail}")
    return AwsError(f"could not {action}: {code}: {message}")


def is_not_found(code: str, message: str) -> bool:
    lowered = message.lower()
    return code in {"ResourceNotFound", "NoSuchBucket", "ResourceNotFoundException"} or (
        code == "ValidationException"
        and ("could not find" in lowered or "does not exist" in lowered or "not found" in lowered)
    )


def is_unimplemented(exc: ClientError) -> bool:
    """True for an API that is absent (moto answers 500 with an HTML page), not a hiccup."""
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in {"500", "501", "NotImplemented", "NotImplementedError"}


def one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
