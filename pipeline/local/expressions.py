"""Evaluate the definition's expression language: Get, Std:Join, Std:JsonGet, conditions.

Pure functions over a :class:`Scope`; nothing here touches the store except through the
scope's ``read_json`` callback, so every rule can be table-tested on its own. A reference
that cannot be resolved raises :class:`UnresolvedReference` naming the reference; the
orchestrator adds the step's name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_TOKEN = re.compile(r"\.?([A-Za-z_][\w:-]*)|\[(-?\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": lambda a, b: a == b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanOrEqualTo": lambda a, b: a >= b,
    "LessThan": lambda a, b: a < b,
    "LessThanOrEqualTo": lambda a, b: a <= b,
}


@dataclass(frozen=True)
class Pending:
    """A value that only exists once an earlier step has run (partial resolution).

    Resolving with ``Scope(defer_steps=True)`` turns every ``Steps.*`` reference, and every
    Std:Join or Std:JsonGet that needs one, into a Pending naming the reference, so a
    request can be checked before any step runs without guessing what steps will produce.
    """

    reference: str


class UnresolvedReference(Exception):
    """A Get, JsonGet or condition that cannot be evaluated; ``reference`` names it."""

    def __init__(self, reference: str, why: str) -> None:
        super().__init__(f"cannot resolve {reference}: {why}")
        self.reference = reference


def _no_files(uri: str) -> Any:
    raise UnresolvedReference(uri, "no property files in this scope")


@dataclass(frozen=True)
class Scope:
    """What expressions can see.

    ``execution`` holds the Execution.* variables; a callable value is called each time the
    variable is resolved (CurrentDateTime: "the time when the variable is being evaluated
    during an execution", the SDK's readthedocs). ``steps`` maps each finished step to its
    Describe*-shaped properties; with ``defer_steps`` set, step references resolve to
    :class:`Pending` instead.
    """

    parameters: Mapping[str, Any] = field(default_factory=dict)
    execution: Mapping[str, Any] = field(default_factory=dict)
    steps: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    read_json: Callable[[str], Any] = _no_files
    defer_steps: bool = False


def resolve(value: Any, scope: Scope) -> Any:
    """``value`` with every expression inside it replaced by its result."""
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get("Get"), str):
            return get(value["Get"], scope)
        if len(value) == 1 and "Std:Join" in value:
            return _join(value["Std:Join"], scope)
        if len(value) == 1 and "Std:JsonGet" in value:
            return _json_get(value["Std:JsonGet"], scope)
        return {k: resolve(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, scope) for v in value]
    return value


def get(reference: str, scope: Scope) -> Any:
    """The value of one ``Get`` reference (Parameters., Execution. or Steps.)."""
    root, _, rest = reference.partition(".")
    if root == "Parameters":
        if rest not in scope.parameters:
            raise UnresolvedReference(reference, "no such pipeline parameter")
        return scope.parameters[rest]
    if root == "Execution":
        if rest not in scope.execution:
            raise UnresolvedReference(reference, "unknown execution variable")
        value = scope.execution[rest]
        return value() if callable(value) else value
    if root == "Steps":
        if scope.defer_steps:
            return Pending(reference)
        step, _, path = rest.partition(".")
        if step not in scope.steps:
            raise UnresolvedReference(reference, f"step {step} has not run in this execution")
        return walk(scope.steps[step], path, reference)
    raise UnresolvedReference(reference, "must start with Parameters., Execution. or Steps.")


def walk(document: Any, path: str, reference: str) -> Any:
    """Follow a property path like ``Outputs['train'].S3Output.S3Uri`` or ``a.b[0].c``.

    A string index into a list picks the element whose ``*Name`` field equals it, as the
    SDK's PropertiesList does (``Outputs['train']``, ``FinalMetricDataList['train:loss']``).
    """
    current, position = document, 0
    while position < len(path):
        match = _TOKEN.match(path, position)
        if match is None:
            raise UnresolvedReference(reference, f"cannot parse path at {path[position:]!r}")
        position = match.end()
        name, index, *quoted = match.groups()
        key = name if name is not None else next((q for q in quoted if q is not None), None)
        current = _step_into(current, key, None if index is None else int(index), reference)
    return current


def _step_into(current: Any, key: str | None, index: int | None, reference: str) -> Any:
    if index is not None and isinstance(current, list) and -len(current) <= index < len(current):
        return current[index]
    if key is not None and isinstance(current, dict) and key in current:
        return current[key]
    if key is not None and isinstance(current, list):
        for item in current:
            if isinstance(item, dict) and any(
                k.endswith("Name") and v == key for k, v in item.items()
            ):
                return item
    shown = key if key is not None else f"[{index}]"
    raise UnresolvedReference(reference, f"{shown!r} not found")


def _join(spec: Mapping[str, Any], scope: Scope) -> str | Pending:
    values = resolve(spec.get("Values", []), scope)
    pending = next((v for v in values if isinstance(v, Pending)), None)
    if pending is not None:
        return pending
    return str(spec.get("On", "")).join(_text(v) for v in values)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _json_get(spec: Mapping[str, Any], scope: Scope) -> Any:
    path = spec.get("Path", "")
    source = spec.get("PropertyFile", spec.get("S3Uri"))
    label = f"Std:JsonGet {_describe(source)} {path}"
    uri = resolve(source, scope)
    if isinstance(uri, Pending):
        return Pending(label)
    if not isinstance(uri, str):
        raise UnresolvedReference(label, "the property file is not stored anywhere")
    return walk(scope.read_json(uri), path, label)


def _describe(source: Any) -> str:
    return source["Get"] if isinstance(source, dict) and "Get" in source else json.dumps(source)


def evaluate_conditions(conditions: Sequence[Mapping[str, Any]], scope: Scope) -> bool:
    """A Condition step's outcome: every condition in the list must hold."""
    return all(evaluate_condition(c, scope) for c in conditions)


def evaluate_condition(condition: Mapping[str, Any], scope: Scope) -> bool:
    """One condition (Equals … LessThanOrEqualTo, In, Not, Or) on resolved values."""
    kind = condition.get("Type")
    if kind in _COMPARISONS:
        left = resolve(condition.get("LeftValue"), scope)
        right = resolve(condition.get("RightValue"), scope)
        return _compare(kind, *_comparable(left, right))
    if kind == "In":
        query = resolve(condition.get("QueryValue"), scope)
        return any(query == v for v in resolve(condition.get("Values", []), scope))
    if kind == "Not":
        return not evaluate_condition(condition.get("Condition", {}), scope)
    if kind == "Or":
        return any(evaluate_condition(c, scope) for c in condition.get("Conditions", []))
    raise UnresolvedReference(f"condition {kind}", "unsupported condition type")


def _compare(kind: str, left: Any, right: Any) -> bool:
    try:
        return _COMPARISONS[kind](left, right)
    except TypeError:
        raise UnresolvedReference(
            f"condition {kind}", f"cannot compare {left!r} with {right!r}"
        ) from None


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    """Numbers compare as numbers even when one side arrived as a numeric string."""
    numbers = (int, float)
    if isinstance(left, numbers) and isinstance(right, str):
        return left, _number(right, right)
    if isinstance(right, numbers) and isinstance(left, str):
        return _number(left, left), right
    return left, right


def _number(text: str, fallback: Any) -> Any:
    try:
        return float(text)
    except ValueError:
        return fallback
