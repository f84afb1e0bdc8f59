"""Pipelines on SageMaker: upsert (the artifacts first), and the stored definition read back.

The definition is already built (pipeline/assembly/builder.py), so the SDK's Pipeline.upsert
adds nothing here: CreatePipeline/UpdatePipeline with plain boto3, and no UpdatePipeline at
all when the stored pipeline already equals ours (no new version in Studio).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pipeline.config import missing_role
from pipeline.core.errors import ConfigError, PipelineNotFoundError
from pipeline.core.names import split_s3_uri
from pipeline.core.records import PipelineDefinition, UpsertResult
from pipeline.local.graph import PipelineGraph, parse_definition
from pipeline.targets.sagemaker.clients import AwsClients
from pipeline.targets.sagemaker.errors import translate


class Pipelines:
    """CreatePipeline / UpdatePipeline / DescribePipeline, and the role an upsert needs.

    ``config_file`` is where a person sets aws.role_arn, as the config check shows it, so
    the missing-role error reads the same whoever raises it.
    """

    def __init__(self, clients: AwsClients, config_file: str) -> None:
        self._clients = clients
        self._config_file = config_file

    def check_role(self, role_arn: str | None) -> None:
        """Refuse an upsert without the role SageMaker runs the pipeline's jobs as."""
        if not role_arn:
            raise missing_role(self._config_file)

    def upsert(self, pipeline: PipelineDefinition, role_arn: str | None) -> UpsertResult:
        """Upload changed artifacts, then create the pipeline, or update it if it differs.

        A pipeline whose stored definition, description and role equal ours is left alone
        (no UpdatePipeline, so no new version in Studio), and an artifact S3 already holds
        with the same MD5 is not uploaded again.
        """
        self.check_role(role_arn)  # the front checks first, before the SDK builds anything
        for uri, body in sorted(pipeline.artifacts.items()):
            self._upload(uri, body)
        request: dict[str, Any] = {
            "PipelineName": pipeline.name,
            "PipelineDefinition": pipeline.definition,
            "RoleArn": role_arn,
            "PipelineDescription": pipeline.description,
            "PipelineDisplayName": pipeline.name,
        }
        if pipeline.max_parallel_steps is not None:
            request["ParallelismConfiguration"] = {
                "MaxParallelExecutionSteps": pipeline.max_parallel_steps
            }
        existing = self._describe_or_none(pipeline.name)
        if existing is not None and _same_pipeline(existing, request):
            return UpsertResult(str(existing["PipelineArn"]), changed=False)
        action = "create" if existing is None else "update"
        with translate(f"{action} pipeline {pipeline.name}"):
            if existing is None:
                response = self._clients.sm.create_pipeline(**request)
            else:
                response = self._clients.sm.update_pipeline(**request)
        return UpsertResult(str(response["PipelineArn"]), changed=True)

    def describe(self, name: str) -> dict[str, Any]:
        """DescribePipeline (PipelineNotFoundError saying to --upsert)."""
        with translate(f"describe pipeline {name}", not_found=self.not_found(name)):
            return dict(self._clients.sm.describe_pipeline(PipelineName=name))

    def definition(self, name: str) -> dict[str, Any]:
        """The stored (newest) definition, as JSON."""
        return dict(json.loads(self.describe(name)["PipelineDefinition"]))

    def parameters(self, name: str) -> list[dict[str, Any]]:
        """The stored definition's Parameters list."""
        return list(self.definition(name).get("Parameters", []))

    def graph(self, name: str) -> PipelineGraph:
        """The stored definition's steps, edges and parameters (the engine's pure parser:
        nothing runs)."""
        return parse_definition(self.describe(name)["PipelineDefinition"])

    def not_found(self, name: str) -> PipelineNotFoundError:
        """What a missing pipeline means to a person: upsert it first."""
        return PipelineNotFoundError(
            f"pipeline {name} not found in {self._clients.region}; create it with --upsert"
        )

    def _describe_or_none(self, name: str) -> dict[str, Any] | None:
        try:
            return self.describe(name)
        except PipelineNotFoundError:
            return None

    def _upload(self, uri: str, body: bytes) -> None:
        bucket, key = artifact_location(uri)
        md5 = hashlib.md5(body, usedforsecurity=False).hexdigest()
        if self._stored_etag(bucket, key) == f'"{md5}"':
            return
        missing = ConfigError(
            f"S3 bucket {bucket} does not exist or is not yours; create it or set "
            "aws.bucket in the config (or pass --bucket)"
        )
        with translate(f"upload {uri}", not_found=missing):
            self._clients.s3.put_object(Bucket=bucket, Key=key, Body=body)

    def _stored_etag(self, bucket: str, key: str) -> str | None:
        """The object's ETag (an MD5 for a plain single-part upload), None if unknown.

        Any failure only means "upload it": put_object then reports what is wrong.
        """
        try:
            return str(self._clients.s3.head_object(Bucket=bucket, Key=key).get("ETag"))
        except (ClientError, BotoCoreError):
            return None


def artifact_location(uri: str) -> tuple[str, str]:
    """An artifact's ``s3://bucket/key`` -> (bucket, key); an artifact needs a key."""
    try:
        bucket, key = split_s3_uri(uri)
    except ValueError:
        bucket, key = "", ""
    if not key:
        raise ConfigError(f"artifact URI {uri!r} is not of the form s3://bucket/key")
    return bucket, key


def _same_pipeline(described: Mapping[str, Any], request: Mapping[str, Any]) -> bool:
    """True if UpdatePipeline with ``request`` would change nothing DescribePipeline shows."""
    keys = ("PipelineDefinition", "PipelineDescription", "RoleArn", "ParallelismConfiguration")
    return all(described.get(k) == request.get(k) for k in keys)
