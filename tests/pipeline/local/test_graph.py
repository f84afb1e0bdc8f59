"""Definition parsing: order, branches lifted out of conditions, clear rejections."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipeline.local.graph import DefinitionError, Gate, parse_definition


def _definition(steps: list[dict[str, Any]]) -> str:
    return json.dumps(
        {
            "Version": "2020-12-01",
            "Parameters": [{"Name": "X", "Type": "Integer", "DefaultValue": 1}],
            "Steps": steps,
        }
    )


def _step(name: str, uses: str | None = None, **extra: Any) -> dict[str, Any]:
    args = {"V": {"Get": f"Steps.{uses}.Out"}} if uses else {}
    return {"Name": name, "Type": "Processing", "Arguments": args, **extra}


def test_property_references_and_depends_on_order_steps() -> None:
    plan = parse_definition(
        _definition([_step("C", uses="B"), _step("B", DependsOn=["A"]), _step("A")])
    )
    assert [s.name for s in plan.steps] == ["A", "B", "C"]


def test_condition_branches_are_lifted_and_gated() -> None:
    condition = {
        "Name": "Check",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [],
            "IfSteps": [_step("Yes", uses="A")],
            "ElseSteps": [_step("No")],
        },
    }
    plan = parse_definition(_definition([_step("A"), condition]))
    assert [s.name for s in plan.steps] == ["A", "Check", "Yes", "No"]
    assert plan.step("Yes").gates == (Gate("Check", True),)
    assert plan.step("No").gates == (Gate("Check", False),)
    assert plan.step("Check").if_steps == ("Yes",) and "IfSteps" not in plan.step("Check").arguments


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (
            [_step("A", uses="B"), _step("B", uses="A")],
            "steps depend on each other in a cycle: A, B",
        ),
        ([_step("A", uses="Nope")], "step A depends on unknown step Nope"),
        ([_step("A", DependsOn=["Z"])], "step A depends on unknown step Z"),
        ([_step("A"), _step("A")], "step name A is used more than once"),
        (
            [{"Name": "A", "Type": "Fail", "Arguments": {"ErrorMessage": {"Get": "Parameters.Y"}}}],
            "step A references undeclared Parameters.Y",
        ),
        (
            [_step("../x")],
            "step name '../x' is invalid; use letters, digits, '-' and '_' (max 256)",
        ),
        ([{"Name": "A"}], "every step needs a Name and a Type; got {'Name': 'A'}"),
    ],
)
def test_bad_definitions_are_rejected_before_running(steps: list[Any], message: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(_definition(steps))
    assert str(caught.value) == message


def test_wrong_version_is_rejected() -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(json.dumps({"Version": "2019", "Steps": []}))
    assert str(caught.value) == "pipeline definition Version must be '2020-12-01'; got '2019'"
