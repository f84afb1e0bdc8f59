"""Check pipeline parameter overrides against a definition's declared parameters.

StartPipelineExecution rejects unknown names and values of the wrong type before it
starts anything; both targets apply this same check before a start is sent (SageMaker)
or run (local), so a typo never costs a run. A ParameterString's ``EnumValues`` are held to
as well: no AWS page says whether the service refuses a value outside them, but it refuses
other parameter values at start with a ValidationException (aws/sagemaker-python-sdk#4016),
so a value no enum allows is refused here, before anything runs (docs/semantics.md).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pipeline.core.errors import ParameterError

ParamValue = str | int | float | bool

_INTEGER = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_BOOLEANS = {"true": True, "false": False}
_EXPECTED = {
    "Integer": "digits with an optional sign, e.g. 40 or -3",
    "Float": "a finite decimal number, e.g. 0.05, 5e-2 or 3",
    "Boolean": "true or false",
}


def parse_assignment(text: str) -> tuple[str, str]:
    """Split a ``NAME=VALUE`` flag value; the value may itself contain ``=``."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ParameterError(f"--param {text!r}: expected NAME=VALUE, e.g. --param HiddenDim=40")
    return name.strip(), value


def param_overrides(assignments: Sequence[str]) -> dict[str, str]:
    """--param NAME=VALUE flags as a mapping; a name given twice is a mistake."""
    overrides: dict[str, str] = {}
    for text in assignments:
        name, value = parse_assignment(text)
        if name in overrides:
            raise ParameterError(f"--param {name} is given twice; keep one")
        overrides[name] = value
    return overrides


def coerce_value(name: str, type_name: str, raw: Any) -> ParamValue:
    """Convert ``raw`` (a string from the CLI, or a JSON value) to the parameter's type.

    Text is parsed strictly, as a literal of the type and nothing else: Python's int() and
    float() also take ``1_0``, `` 7 ``, ``nan`` or ``infinity``, which a person almost
    certainly did not mean and SageMaker would not read the same way.
    """
    if type_name not in _EXPECTED:
        return str(raw)
    value = _parsed(type_name, raw) if isinstance(raw, str) else _typed(type_name, raw)
    if value is None:
        raise ParameterError(
            f"parameter {name} is {type_name}; {raw!r} is not a valid {type_name.lower()} "
            f"value (expected {_EXPECTED[type_name]})"
        )
    return value


def _parsed(type_name: str, text: str) -> ParamValue | None:
    """A --param text: exactly a literal of the type, or None."""
    if type_name == "Integer":
        return int(text) if _INTEGER.fullmatch(text) else None
    if type_name == "Float":
        value = float(text) if _FLOAT.fullmatch(text) else math.nan
        return value if math.isfinite(value) else None
    return _BOOLEANS.get(text.lower())


def _typed(type_name: str, raw: Any) -> ParamValue | None:
    """A JSON value (e.g. a definition's DefaultValue): the type itself, or a whole float."""
    if type_name == "Boolean":
        return raw if isinstance(raw, bool) else None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        return None
    if type_name == "Integer":
        return int(raw) if float(raw).is_integer() else None
    return float(raw)


def nearest_name(name: str, names: Iterable[str]) -> str | None:
    """The declared name a person most likely meant: the same letters in another case or
    spelling (``hidden_dim`` -> ``HiddenDim``), else the closest by difflib."""
    names = list(names)
    flat = {re.sub(r"[^a-z0-9]", "", n.lower()): n for n in names}
    same = flat.get(re.sub(r"[^a-z0-9]", "", name.lower()))
    if same is not None:
        return same
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.75)
    if close:
        return close[0]
    lowered = difflib.get_close_matches(name.lower(), list(flat), n=1, cutoff=0.75)
    return flat[lowered[0]] if lowered else None


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
        guess = nearest_name(unknown[0], by_name)
        hint = f" (did you mean {guess}?)" if guess else ""
        raise ParameterError(
            f"unknown pipeline parameter {unknown[0]}{hint}; this pipeline declares: "
            + ", ".join(sorted(by_name))
        )
    values: dict[str, ParamValue] = {}
    for name, spec in by_name.items():
        type_name = spec.get("Type", "String")
        if name in overrides:
            values[name] = coerce_value(name, type_name, overrides[name])
            _check_enum(name, spec, values[name])
        elif "DefaultValue" in spec:
            values[name] = coerce_value(name, type_name, spec["DefaultValue"])
        else:
            raise ParameterError(f"parameter {name} has no default; pass --param {name}=VALUE")
    return values


def _check_enum(name: str, spec: Mapping[str, Any], value: ParamValue) -> None:
    allowed = spec.get("EnumValues")
    if isinstance(allowed, list) and allowed and value not in allowed:
        raise ParameterError(
            f"parameter {name} takes one of its EnumValues: {', '.join(map(str, allowed))}; "
            f"got {value!r}"
        )
