"""A fake endpoint helper: the real pipeline.local.endpoint.manager starts server processes."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# The in-process endpoint server fixture, shared by the endpoint test modules.
from tests.pipeline.local.endpoint.served import serve as serve


@dataclass
class FakeEndpointInfo:
    name: str
    url: str
    config_name: str
    status: str = "InService"


@pytest.fixture
def fake_endpoints(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace pipeline.local.endpoint.manager (which starts servers) with a recorder."""
    calls: list[dict[str, Any]] = []
    module = types.ModuleType("pipeline.local.endpoint.manager")

    def deploy(
        store_root: Path,
        endpoint_name: str,
        config_name: str,
        model_data: Path,
        environment: dict[str, str],
    ) -> FakeEndpointInfo:
        calls.append(
            {
                "name": endpoint_name,
                "config": config_name,
                "model_data": model_data,
                "environment": dict(environment),
            }
        )
        return FakeEndpointInfo(endpoint_name, "http://127.0.0.1:9/", config_name)

    module.deploy = deploy  # type: ignore[attr-defined]
    module.list_endpoints = lambda root: [  # type: ignore[attr-defined]
        FakeEndpointInfo(c["name"], "http://127.0.0.1:9/", c["config"]) for c in calls
    ]
    monkeypatch.setitem(sys.modules, "pipeline.local.endpoint.manager", module)
    return calls
