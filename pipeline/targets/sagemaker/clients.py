"""One boto3.Session and the clients the SageMaker target's rooms share.

Every room (pipelines, executions, reuse, facts, endpoints, registry) asks this holder for
its client, so one session serves them all and each client is made once, on first use: a
command that only lists endpoints never creates an S3 client. The session honours
AWS_PROFILE and AWS_ENDPOINT_URL (the moto tests point it at a local server).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

import boto3
from botocore.config import Config

from pipeline.targets.sagemaker.errors import translate

_CLIENT_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, read_timeout=70)


class Clients(Protocol):
    """The clients a reader of records needs (the facts, the steps): an AwsClients, or
    clients made elsewhere (:class:`ReadyClients`)."""

    @property
    def sm(self) -> Any:
        """The sagemaker client."""
        ...

    @property
    def s3(self) -> Any:
        """The s3 client."""
        ...


@dataclass(frozen=True)
class ReadyClients:
    """Clients someone else made (pipeline/report/aws_source.py's callers hold theirs)."""

    sm: Any
    s3: Any


class AwsClients:
    """The session of one region and its sagemaker, s3 and sagemaker-runtime clients."""

    def __init__(self, region: str, session: boto3.Session | None = None) -> None:
        self.region = region
        with translate("read the AWS configuration"):
            self.session = session or boto3.Session(region_name=region)

    @cached_property
    def sm(self) -> Any:
        """The sagemaker client."""
        return self.client("sagemaker")

    @cached_property
    def s3(self) -> Any:
        """The s3 client (artifacts, quality reports, data points)."""
        return self.client("s3")

    @cached_property
    def runtime(self) -> Any:
        """The sagemaker-runtime client (InvokeEndpoint)."""
        return self.client("sagemaker-runtime")

    def client(self, service: str) -> Any:
        """A new client of ``service`` from the session; a failure is one MoonpipeError."""
        with translate(f"create a {service} client"):
            return self.session.client(service, config=_CLIENT_CONFIG)
