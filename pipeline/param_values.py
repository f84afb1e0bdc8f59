"""Check pipeline parameter overrides against a definition's declared parameters.

StartPipelineExecution rejects unknown names and values of the wrong type before it
starts anything; both targets apply this same check before a start is sent (SageMaker)
or run (local), so a typo never costs a run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.errors import ParameterError

ParamValue = str | int | float | bool

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def parse_assignment(text: str) -> tuple[str, str]:
    """Split a ``NAME=VALUE`` flag value; the value may itself contain ``=``."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ParameterError(f"--param {text!r}: expected NAME=VALUE, e.g. --param HiddenDim=40")
    return name.strip(), value


def coerce_value(name: str, type_name: str, raw: Any) -> ParamValue:
    """Convert ``raw`` (a string from the CLI, or a JSON value) to the parameter's type."""
    text = str(raw).strip() if not isinstance(raw, bool) else str(raw).lower()
    try:
        if type_name == "Integer":
            if isinstance(raw, float) and not raw.is_integer():
                raise ValueError
            return int(text) if not isinstance(raw, (int, float)) else int(raw)
        if type_name == "Float":
            value = float(text)
            if not math.isfinite(value):
                raise ValueError
            return value
        if type_name == "Boolean":
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError
        return str(raw)
    except ValueError:
        raise ParameterError(
            f"parameter {name} is {type_name}; {raw!r} is not a valid {type_name.lower()} value"
        ) from None


def resolve_parameters(
    declared: Sequence[Mapping[str, Any]], overrides: Mapping[str, Any]
) -> dict[str, ParamValue]:
    """Every declared parameter's value for one execution: its default unless overridden.

    Args:
        declared: the definition's ``Parameters`` list ({Name, Type, DefaultValue}).
        overrides: NAME -> value (strings from --param, or typed JSON values).

    Raises:
        ParameterError: an override names no declared parameter, has the wrong type, or a
            parameter without a default is not given.
    """
    by_name = {p["Name"]: p for p in declared}
    unknown = sorted(set(overrides) - set(by_name))
    if unknown:
        raise ParameterError(
            f"unknown pipeline parameter {unknown[0]}; this pipeline declares: "
            + ", ".join(sorted(by_name))
        )
    values: dict[str, ParamValue] = {}
    for name, spec in by_name.items():
        type_name = spec.get("Type", "String")
        if name in overrides:
            values[name] = coerce_value(name, type_name, overrides[name])
        elif "DefaultValue" in spec:
            values[name] = coerce_value(name, type_name, spec["DefaultValue"])
        else:
            raise ParameterError(f"parameter {name} has no default; pass --param {name}=VALUE")
    return values
