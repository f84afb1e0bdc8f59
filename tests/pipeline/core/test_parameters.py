"""Parameter overrides are checked like StartPipelineExecution checks them."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.core.errors import ParameterError
from pipeline.core.parameters import coerce_value, parse_assignment, resolve_parameters

DECLARED = [
    {"Name": "HiddenDim", "Type": "Integer", "DefaultValue": 20},
    {"Name": "LearningRate", "Type": "Float", "DefaultValue": 0.05},
    {"Name": "Deploy", "Type": "Boolean", "DefaultValue": True},
    {"Name": "EndpointName", "Type": "String", "DefaultValue": "moonpipe-endpoint"},
]


@pytest.mark.parametrize(
    ("type_name", "raw", "expected"),
    [
        ("Integer", "40", 40),
        ("Integer", "-3", -3),
        ("Integer", "+7", 7),
        ("Integer", "007", 7),
        ("Integer", 3.0, 3),
        ("Integer", 12, 12),
        ("Float", "0.5", 0.5),
        ("Float", "1e-3", 0.001),
        ("Float", "-.25", -0.25),
        ("Float", "3", 3.0),
        ("Float", "2.", 2.0),
        ("Float", "5E+2", 500.0),
        ("Float", 2, 2.0),
        ("Boolean", "true", True),
        ("Boolean", "False", False),
        ("Boolean", True, True),
        ("String", "a=b", "a=b"),
        ("String", " spaced ", " spaced "),
    ],
)
def test_coerce_accepts(type_name: str, raw: Any, expected: Any) -> None:
    value = coerce_value("P", type_name, raw)
    assert value == expected and type(value) is type(expected)


INTEGER_FORM = "(expected digits with an optional sign, e.g. 40 or -3)"
FLOAT_FORM = "(expected a finite decimal number, e.g. 0.05, 5e-2 or 3)"


@pytest.mark.parametrize(
    ("type_name", "raw", "message"),
    [
        ("Integer", "forty", f"'forty' is not a valid integer value {INTEGER_FORM}"),
        ("Integer", "1_0", f"'1_0' is not a valid integer value {INTEGER_FORM}"),
        ("Integer", " 7 ", f"' 7 ' is not a valid integer value {INTEGER_FORM}"),
        ("Integer", "1e3", f"'1e3' is not a valid integer value {INTEGER_FORM}"),
        ("Integer", "4.0", f"'4.0' is not a valid integer value {INTEGER_FORM}"),
        ("Integer", "\u0664\u0660", f"'\u0664\u0660' is not a valid integer value {INTEGER_FORM}"),
        ("Integer", "", f"'' is not a valid integer value {INTEGER_FORM}"),
        ("Integer", 4.5, f"4.5 is not a valid integer value {INTEGER_FORM}"),
        ("Integer", True, f"True is not a valid integer value {INTEGER_FORM}"),
        ("Float", "nan", f"'nan' is not a valid float value {FLOAT_FORM}"),
        ("Float", "inf", f"'inf' is not a valid float value {FLOAT_FORM}"),
        ("Float", "-Infinity", f"'-Infinity' is not a valid float value {FLOAT_FORM}"),
        ("Float", "1_0.5", f"'1_0.5' is not a valid float value {FLOAT_FORM}"),
        ("Float", "1e999", f"'1e999' is not a valid float value {FLOAT_FORM}"),
        ("Float", " 0.5", f"' 0.5' is not a valid float value {FLOAT_FORM}"),
        ("Float", "0x10", f"'0x10' is not a valid float value {FLOAT_FORM}"),
        ("Float", float("nan"), f"nan is not a valid float value {FLOAT_FORM}"),
        ("Boolean", "maybe", "'maybe' is not a valid boolean value (expected true or false)"),
        ("Boolean", "1", "'1' is not a valid boolean value (expected true or false)"),
        ("Boolean", "yes", "'yes' is not a valid boolean value (expected true or false)"),
    ],
)
def test_coerce_rejects_with_the_whole_reason(type_name: str, raw: Any, message: str) -> None:
    with pytest.raises(ParameterError) as err:
        coerce_value("P", type_name, raw)
    assert str(err.value) == f"parameter P is {type_name}; {message}"


def test_resolve_fills_defaults_and_applies_overrides() -> None:
    values = resolve_parameters(DECLARED, {"HiddenDim": "40", "Deploy": "false"})
    assert values == {
        "HiddenDim": 40,
        "LearningRate": 0.05,
        "Deploy": False,
        "EndpointName": "moonpipe-endpoint",
    }


def test_resolve_rejects_unknown_names_listing_the_declared_ones() -> None:
    with pytest.raises(ParameterError) as err:
        resolve_parameters(DECLARED, {"Hidden": "40"})
    assert str(err.value) == (
        "unknown pipeline parameter Hidden (did you mean HiddenDim?); this pipeline declares: "
        "Deploy, EndpointName, HiddenDim, LearningRate"
    )


def test_resolve_requires_parameters_without_default() -> None:
    with pytest.raises(ParameterError) as err:
        resolve_parameters([{"Name": "Bucket", "Type": "String"}], {})
    assert str(err.value) == "parameter Bucket has no default; pass --param Bucket=VALUE"


@pytest.mark.parametrize(
    ("text", "expected"), [("HiddenDim=40", ("HiddenDim", "40")), (" A =x=y", ("A", "x=y"))]
)
def test_parse_assignment(text: str, expected: tuple[str, str]) -> None:
    assert parse_assignment(text) == expected


@pytest.mark.parametrize("text", ["HiddenDim", "=40", ""])
def test_parse_assignment_rejects_text_without_a_name(text: str) -> None:
    with pytest.raises(ParameterError) as err:
        parse_assignment(text)
    assert str(err.value) == (f"--param {text!r}: expected NAME=VALUE, e.g. --param HiddenDim=40")


@pytest.mark.parametrize(
    ("given", "meant"),
    [
        ("hidden_dim", "HiddenDim"),  # issue 20: the script's name for it got no suggestion
        ("hiddendim", "HiddenDim"),
        ("HidenDim", "HiddenDim"),
        ("Epoch", "Epochs"),
        ("endpoint-name", "EndpointName"),
        ("Nope", None),  # nothing close: no guess
    ],
)
def test_an_unknown_name_gets_the_declared_name_a_person_meant(
    given: str, meant: str | None
) -> None:
    declared = [*DECLARED, {"Name": "Epochs", "Type": "Integer", "DefaultValue": 1}]
    with pytest.raises(ParameterError) as err:
        resolve_parameters(declared, {given: "1"})
    hint = f" (did you mean {meant}?)" if meant else ""
    assert str(err.value).startswith(f"unknown pipeline parameter {given}{hint}; this pipeline")
