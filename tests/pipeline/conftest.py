"""A fake endpoint manager: the real pipeline.local.endpoint.manager starts server processes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

# The in-process endpoint server fixture, shared by the endpoint test modules.
from tests.pipeline.local.endpoint.served import serve as serve


@dataclass
class FakeEndpointInfo:
    name: str
    url: str
    config_name: str
    status: str = "InService"


class FakeEndpoints(list):  # type: ignore[type-arg]
    """An endpoint manager that starts no server: it records each deploy (a list of calls)."""

    def deploy(
        self,
        store_root: Path,
        endpoint_name: str,
        config_name: str,
        model_data: Path,
        environment: Mapping[str, str],
    ) -> FakeEndpointInfo:
        self.append(
            {
                "name": endpoint_name,
                "config": config_name,
                "model_data": model_data,
                "environment": dict(environment),
            }
        )
        return FakeEndpointInfo(endpoint_name, "http://127.0.0.1:9/", config_name)

    def list_endpoints(self, store_root: Path) -> list[FakeEndpointInfo]:
        return [FakeEndpointInfo(c["name"], "http://127.0.0.1:9/", c["config"]) for c in self]

    def invoke(
        self, store_root: Path, name: str, body: bytes, content_type: str, accept: str
    ) -> bytes:
        raise AssertionError("the fake endpoints serve nothing")

    def delete_endpoint(self, store_root: Path, name: str) -> None:
        raise AssertionError("the fake endpoints delete nothing")


@pytest.fixture
def fake_endpoints() -> FakeEndpoints:
    """A recorder to pass as LocalTarget(..., endpoints=fake_endpoints)."""
    return FakeEndpoints()
