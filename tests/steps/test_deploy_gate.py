"""DeployOrNot: the hosting steps run only when the Boolean parameter Deploy is true."""

from __future__ import annotations

from typing import Any


def _gate(definition: dict[str, Any]) -> dict[str, Any]:
    check = next(s for s in definition["Steps"] if s["Name"] == "CheckAccuracy")
    return next(s for s in check["Arguments"]["IfSteps"] if s["Name"] == "DeployOrNot")


def test_deploy_is_a_boolean_parameter_that_defaults_to_deploying(
    definition: dict[str, Any],
) -> None:
    declared = {p["Name"]: p for p in definition["Parameters"]}
    assert declared["Deploy"] == {"Name": "Deploy", "Type": "Boolean", "DefaultValue": True}


def test_gate_follows_registration_and_holds_every_hosting_step(
    definition: dict[str, Any],
) -> None:
    gate = _gate(definition)
    assert gate["Type"] == "Condition"
    assert gate["DependsOn"] == ["RegisterMoonModel-RegisterModel"]
    assert gate["Arguments"]["Conditions"] == [
        {"Type": "Equals", "LeftValue": {"Get": "Parameters.Deploy"}, "RightValue": True}
    ]
    assert [(s["Name"], s["Type"]) for s in gate["Arguments"]["IfSteps"]] == [
        ("CreateMoonModel-CreateModel", "Model"),
        ("MoonEndpointConfig", "EndpointConfig"),
        ("DeployMoonEndpoint", "Endpoint"),
    ]
    assert gate["Arguments"]["ElseSteps"] == []
    assert gate["DisplayName"] == "Deploy or not" and gate["Description"]
