"""Endpoints on SageMaker: list, invoke (sagemaker-runtime), delete."""

from __future__ import annotations

from pipeline.core.errors import EndpointError, EndpointNotFoundError
from pipeline.core.records import EndpointRef
from pipeline.targets.sagemaker.clients import AwsClients
from pipeline.targets.sagemaker.errors import AwsError, translate


class Endpoints:
    """list_endpoints / invoke_endpoint / delete_endpoint of the Target protocol."""

    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    def list(self) -> list[EndpointRef]:
        """Every endpoint in the region with its status."""
        with translate("list endpoints"):
            pages = self._clients.sm.get_paginator("list_endpoints").paginate()
            rows = [e for page in pages for e in page["Endpoints"]]
        return [EndpointRef(name=e["EndpointName"], status=e.get("EndpointStatus")) for e in rows]

    def invoke(self, name: str, body: bytes, content_type: str, accept: str) -> bytes:
        """One request through sagemaker-runtime; a model's 4xx becomes an EndpointError."""
        try:
            with translate(f"invoke endpoint {name}", not_found=self._not_found(name)):
                response = self._clients.runtime.invoke_endpoint(
                    EndpointName=name, Body=body, ContentType=content_type, Accept=accept
                )
                return bytes(response["Body"].read())
        except AwsError as exc:
            raise EndpointError(str(exc)) from None

    def delete(self, name: str) -> None:
        """Delete the endpoint (its config and model stay, as SageMaker keeps them)."""
        with translate(f"delete endpoint {name}", not_found=self._not_found(name)):
            self._clients.sm.delete_endpoint(EndpointName=name)

    def _not_found(self, name: str) -> EndpointNotFoundError:
        return EndpointNotFoundError(
            f"endpoint {name} not found in {self._clients.region}; list them with --list-endpoints"
        )
