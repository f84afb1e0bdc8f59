"""The SageMaker target's endpoint commands: list, invoke (sagemaker-runtime), delete.

A mixin of SageMakerTarget, kept apart so the pipeline and execution calls stay one screenful
each; it uses the target's clients (``_sm``, ``_runtime``) and region.
"""

from __future__ import annotations

from typing import Any

from pipeline.core.errors import EndpointError, EndpointNotFoundError
from pipeline.core.records import EndpointRef
from pipeline.targets.sagemaker.errors import AwsError, translate


class EndpointCalls:
    """list_endpoints / invoke_endpoint / delete_endpoint of the Target protocol."""

    region: str
    _sm: Any
    _runtime: Any

    def list_endpoints(self) -> list[EndpointRef]:
        """Every endpoint in the region with its status."""
        with translate("list endpoints"):
            pages = self._sm.get_paginator("list_endpoints").paginate()
            rows = [e for page in pages for e in page["Endpoints"]]
        return [EndpointRef(name=e["EndpointName"], status=e.get("EndpointStatus")) for e in rows]

    def invoke_endpoint(self, name: str, body: bytes, content_type: str, accept: str) -> bytes:
        """One request through sagemaker-runtime; a model's 4xx becomes an EndpointError."""
        try:
            with translate(f"invoke endpoint {name}", not_found=self._no_endpoint(name)):
                response = self._runtime.invoke_endpoint(
                    EndpointName=name, Body=body, ContentType=content_type, Accept=accept
                )
                return bytes(response["Body"].read())
        except AwsError as exc:
            raise EndpointError(str(exc)) from None

    def delete_endpoint(self, name: str) -> None:
        """Delete the endpoint (its config and model stay, as SageMaker keeps them)."""
        with translate(f"delete endpoint {name}", not_found=self._no_endpoint(name)):
            self._sm.delete_endpoint(EndpointName=name)

    def _no_endpoint(self, name: str) -> EndpointNotFoundError:
        return EndpointNotFoundError(
            f"endpoint {name} not found in {self.region}; list them with --list-endpoints"
        )
