"""Read a pipeline definition JSON into steps and the order they may run in.

A Condition step carries its branch steps inline (``Arguments.IfSteps``/``ElseSteps``);
they are lifted out here so every step is addressed by name, and each lifted step
remembers the branch that gates it. Dependencies come from ``DependsOn`` and from every
``Steps.<name>.`` reference anywhere in the step's arguments. Everything is checked before
anything runs: an unknown step, parameter or execution variable reference, a duplicate
name, a cycle, a CacheConfig or RetryPolicies SageMaker would not take (policies.py), a
parameter's EnumValues that cannot hold, is one clear DefinitionError, never a half-run
execution (and never a second run that fails where the first passed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.core.names import check_record_name
from pipeline.local.policies import (
    CachePolicy,
    PolicyError,
    RetryPolicy,
    parse_cache_config,
    parse_retry_policies,
)

SUPPORTED_VERSION = "2020-12-01"
_STEP_REF = re.compile(r"^Steps\.([^.\[]+)")
# The SDK's ExecutionVariables (sagemaker/workflow/execution_variables.py); the two job names
# are "the name of the training/processing job launched by the training/processing step",
# so each means something only inside a step of that type.
EXECUTION_VARIABLES = (
    "StartDateTime",
    "CurrentDateTime",
    "PipelineName",
    "PipelineArn",
    "PipelineExecutionId",
    "PipelineExecutionArn",
    "TrainingJobName",
    "ProcessingJobName",
)
JOB_NAME_VARIABLES = {"TrainingJobName": "Training", "ProcessingJobName": "Processing"}
# ParameterString EnumValues: at most 16 values (aws/sagemaker-python-sdk#2314, a user's
# report of the service's limit; no AWS page states it).
MAX_ENUM_VALUES = 16


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
    retry_config: tuple[Mapping[str, Any], ...] = ()

    @property
    def cache(self) -> CachePolicy:
        """The step's CacheConfig, checked (PolicyError if SageMaker would not take it)."""
        return parse_cache_config(self.cache_config)

    @property
    def retry_policies(self) -> tuple[RetryPolicy, ...]:
        """The step's RetryPolicies, defaults applied (PolicyError if not acceptable)."""
        return parse_retry_policies(list(self.retry_config), self.step_type)


@dataclass(frozen=True)
class PipelineGraph:
    """A checked definition: parameters, and steps in a runnable order.

    ``max_parallel_steps`` is the pipeline's ParallelismConfiguration (set with the pipeline,
    not in its definition; None: every step whose dependencies are met runs at once).
    """

    parameters: tuple[Mapping[str, Any], ...]
    steps: tuple[StepSpec, ...]
    max_parallel_steps: int | None = None

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
    _check_parameters(parameters)
    specs = list(_flatten(doc.get("Steps") or [], ()))
    _check_references(specs, {p["Name"] for p in parameters})
    return PipelineGraph(parameters, tuple(_order(specs)))


def _check_parameters(parameters: tuple[Any, ...]) -> None:
    """Names, and EnumValues that a start could satisfy: String only, at most 16, the
    default among them (SDK parameters.py emits EnumValues only for ParameterString)."""
    for spec in parameters:
        if not isinstance(spec, dict) or not isinstance(spec.get("Name"), str):
            raise DefinitionError(f"every parameter needs a Name; got {str(spec)[:80]}")
        if "EnumValues" not in spec:
            continue
        name, values = spec["Name"], spec["EnumValues"]
        if spec.get("Type", "String") != "String":
            raise DefinitionError(f"parameter {name}: EnumValues is for String parameters only")
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, str) for v in values)
        ):
            raise DefinitionError(f"parameter {name}: EnumValues must be a list of strings")
        if len(values) > MAX_ENUM_VALUES:
            raise DefinitionError(
                f"parameter {name}: EnumValues has {len(values)} values; at most "
                f"{MAX_ENUM_VALUES} allowed"
            )
        if "DefaultValue" in spec and spec["DefaultValue"] not in values:
            raise DefinitionError(
                f"parameter {name}: its DefaultValue {spec['DefaultValue']!r} is not one of its "
                f"EnumValues ({', '.join(values)})"
            )


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
        retries = raw.get("RetryPolicies") or []
        spec = StepSpec(
            name=name,
            step_type=raw["Type"],
            arguments=args,
            depends_on=tuple(raw.get("DependsOn") or ()),
            cache_config=raw.get("CacheConfig") or {},
            property_files=tuple(raw.get("PropertyFiles") or ()),
            gates=gates,
            if_steps=tuple(s.get("Name", "?") for s in if_raw),
            else_steps=tuple(s.get("Name", "?") for s in else_raw),
            retry_config=tuple(retries) if isinstance(retries, list) else (retries,),
        )
        try:  # parsed now, so a bad one is refused before any run
            parse_cache_config(spec.cache_config)
            parse_retry_policies(retries, spec.step_type)
        except PolicyError as err:
            raise DefinitionError(f"step {name}: {err}") from None
        yield spec
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
            if ref.startswith("Execution."):
                _check_execution_variable(spec, ref)
        for other in sorted(upstream(spec)):
            if other not in names:
                raise DefinitionError(f"step {spec.name} depends on unknown step {other}")
            if other == spec.name:
                raise DefinitionError(f"step {spec.name} references itself")


def _check_execution_variable(spec: StepSpec, ref: str) -> None:
    name = ref[len("Execution.") :]
    if name not in EXECUTION_VARIABLES:
        raise DefinitionError(
            f"step {spec.name} references unknown execution variable {ref}; "
            f"there are: {', '.join(EXECUTION_VARIABLES)}"
        )
    owner = JOB_NAME_VARIABLES.get(name)
    if owner is not None and spec.step_type != owner:
        raise DefinitionError(
            f"step {spec.name} ({spec.step_type}) references {ref}, the name of the job a "
            f"{owner} step launches; use it only inside a {owner} step's arguments"
        )


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
