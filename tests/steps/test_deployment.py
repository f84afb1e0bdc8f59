"""MoonEndpointConfig and DeployMoonEndpoint as they appear in the definition."""

from __future__ import annotations

from typing import Any


def test_endpoint_config_serves_the_created_model(steps: dict[str, dict[str, Any]]) -> None:
    step = steps["MoonEndpointConfig"]
    (variant,) = step["Arguments"]["ProductionVariants"]
    assert step["Type"] == "EndpointConfig"
    assert variant["ModelName"] == {"Get": "Steps.CreateMoonModel-CreateModel.ModelName"}
    assert variant["InstanceType"] == {"Get": "Parameters.EndpointInstanceType"}
    assert variant["InitialInstanceCount"] == 1
    assert step["DisplayName"] == "Moon endpoint config"


def test_endpoint_uses_the_suffixed_config_name(steps: dict[str, dict[str, Any]]) -> None:
    step = steps["DeployMoonEndpoint"]
    assert step["Type"] == "Endpoint"
    assert step["Arguments"]["EndpointName"] == {"Get": "Parameters.EndpointName"}
    assert step["Arguments"]["EndpointConfigName"] == {
        "Get": "Steps.MoonEndpointConfig.EndpointConfigName"
    }
    assert step["DisplayName"] == "Deploy moon endpoint"
    assert step["Description"]
