"""Read a pipeline definition JSON into steps and the order they may run in.

A Condition step carries its branch steps inline (``Arguments.IfSteps``/``ElseSteps``);
they are lifted out here so every step is addressed by name, and each lifted step
remembers the branch that gates it. Dependencies come from ``DependsOn`` and from every
``Steps.<name>.`` reference anywhere in the step's arguments. Everything is checked before
anything runs: an unknown step or parameter reference, a duplicate name or a cycle is one
clear DefinitionError, never a half-run execution.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.core.names import check_record_name

SUPPORTED_VERSION = "2020-12-01"
_STEP_REF = re.compile(r"^Steps\.([^.\[]+)")


class DefinitionError(Exception):
    """The definition cannot be run: says which step and what is wrong."""


@dataclass(frozen=True)
class Gate:
    """A branch of a Condition step: the step runs only if ``condition`` chose ``branch``."""

    condition: str
    branch: bool


@dataclass(frozen=True)
class StepSpec:
    """One step as the engine needs it."""

    name: str
    step_type: str
    arguments: Mapping[str, Any]
    depends_on: tuple[str, ...] = ()
    cache_config: Mapping[str, Any] = field(default_factory=dict)
    property_files: tuple[Mapping[str, Any], ...] = ()
    gates: tuple[Gate, ...] = ()
    if_steps: tuple[str, ...] = ()
    else_steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class PipelineGraph:
    """A checked definition: parameters, and steps in a runnable order."""

    parameters: tuple[Mapping[str, Any], ...]
    steps: tuple[StepSpec, ...]

    def step(self, name: str) -> StepSpec:
        """The step of that name (KeyError if none)."""
        return next(s for s in self.steps if s.name == name)


def parse_definition(text: str) -> PipelineGraph:
    """Parse and check a definition JSON string; steps come back in dependency order."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise DefinitionError(f"pipeline definition is not valid JSON: {err}") from None
    if not isinstance(doc, dict) or doc.get("Version") != SUPPORTED_VERSION:
        raise DefinitionError(
            f"pipeline definition Version must be {SUPPORTED_VERSION!r}; got "
            f"{doc.get('Version') if isinstance(doc, dict) else type(doc).__name__!r}"
        )
    parameters = tuple(doc.get("Parameters") or ())
    specs = list(_flatten(doc.get("Steps") or [], ()))
    _check_references(specs, {p["Name"] for p in parameters})
    return PipelineGraph(parameters, tuple(_order(specs)))


def _flatten(raw_steps: list[Any], gates: tuple[Gate, ...]) -> Iterator[StepSpec]:
    for raw in raw_steps:
        if not isinstance(raw, dict) or "Name" not in raw or "Type" not in raw:
            raise DefinitionError(f"every step needs a Name and a Type; got {str(raw)[:80]}")
        name, args = raw["Name"], dict(raw.get("Arguments") or {})
        try:
            check_record_name("step", name)
        except ValueError as err:
            raise DefinitionError(str(err)) from None
        if_raw, else_raw = args.pop("IfSteps", []), args.pop("ElseSteps", [])
        yield StepSpec(
            name=name,
            step_type=raw["Type"],
            arguments=args,
            depends_on=tuple(raw.get("DependsOn") or ()),
            cache_config=raw.get("CacheConfig") or {},
            property_files=tuple(raw.get("PropertyFiles") or ()),
            gates=gates,
            if_steps=tuple(s.get("Name", "?") for s in if_raw),
            else_steps=tuple(s.get("Name", "?") for s in else_raw),
        )
        yield from _flatten(if_raw, (*gates, Gate(name, True)))
        yield from _flatten(else_raw, (*gates, Gate(name, False)))


def references(value: Any) -> Iterator[str]:
    """Every ``Get`` string anywhere inside ``value``."""
    if isinstance(value, dict):
        if isinstance(value.get("Get"), str):
            yield value["Get"]
        for inner in value.values():
            yield from references(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from references(inner)


def upstream(spec: StepSpec) -> set[str]:
    """Names of the steps ``spec`` must wait for."""
    named = {m.group(1) for ref in references(spec.arguments) if (m := _STEP_REF.match(ref))}
    return named | set(spec.depends_on) | {g.condition for g in spec.gates}


def _check_references(specs: list[StepSpec], parameter_names: set[str]) -> None:
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DefinitionError(f"step name {duplicates[0]} is used more than once")
    for spec in specs:
        for ref in references(spec.arguments):
            if ref.startswith("Parameters.") and ref[len("Parameters.") :] not in parameter_names:
                raise DefinitionError(f"step {spec.name} references undeclared {ref}")
        for other in sorted(upstream(spec)):
            if other not in names:
                raise DefinitionError(f"step {spec.name} depends on unknown step {other}")
            if other == spec.name:
                raise DefinitionError(f"step {spec.name} references itself")


def _order(specs: list[StepSpec]) -> list[StepSpec]:
    """Kahn's algorithm, keeping definition order among ready steps (stable, predictable)."""
    waiting = {s.name: upstream(s) for s in specs}
    ordered: list[StepSpec] = []
    while waiting:
        ready = [s for s in specs if s.name in waiting and not waiting[s.name]]
        if not ready:
            raise DefinitionError(
                "steps depend on each other in a cycle: " + ", ".join(sorted(waiting))
            )
        for spec in ready:
            ordered.append(spec)
            del waiting[spec.name]
        for deps in waiting.values():
            deps.difference_update(s.name for s in ready)
    return ordered
