"""SageMaker's own API model as the local engine's gate: refuse what the service would refuse.

Every step the engine "sends" is checked as the request SageMaker would receive (Processing →
CreateProcessingJob, Training → CreateTrainingJob, RegisterModel → CreateModelPackage, Model →
CreateModel, EndpointConfig → CreateEndpointConfig, Endpoint → CreateEndpoint; UpdateEndpoint
has the same members). The rules come from the service model botocore ships — nothing here
lists instance types or limits. request_check.py walks a request over its shape with the
rules of botocore's ParamValidator (shapes, types, required members, minimums) and the ones
it skips (enums, maximums, the documented name patterns).

Two moments use it: :func:`check_start` before an execution exists (fields that depend only
on parameters and Execution.* variables; step properties stay :class:`Pending`), and
:func:`request_rejection` right before a step runs, on its fully resolved request.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from pipeline.core.errors import ConfigError, ParameterError
from pipeline.local.expressions import Pending, Scope, UnresolvedReference, resolve
from pipeline.local.gate_model import cache_service_model_in as cache_service_model_in
from pipeline.local.gate_model import service_model
from pipeline.local.graph import JOB_NAME_VARIABLES, PipelineGraph, StepSpec, references
from pipeline.local.handlers.hosting import endpoint_config_name
from pipeline.local.request_check import check

OPERATIONS = {
    "Processing": "CreateProcessingJob",
    "Training": "CreateTrainingJob",
    "RegisterModel": "CreateModelPackage",
    "Model": "CreateModel",
    "EndpointConfig": "CreateEndpointConfig",
    "Endpoint": "CreateEndpoint",
}
# Members the pipeline service generates when a step runs, so a step's Arguments omit them.
# Any valid name stands in: the service's own choice is valid by construction.
GENERATED_MEMBERS = {
    "Processing": "ProcessingJobName",
    "Training": "TrainingJobName",
    "Model": "ModelName",
}
GENERATED_NAME = "pipelines-generated-name"
_ENUM_SHOWN = 8
_NEAREST = 3
_SHOWN_CHARS = 100
_MISSING = object()


@dataclass(frozen=True)
class Violation:
    """One field of one request that SageMaker would refuse, and why."""

    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}"


def request_violations(
    step_type: str, step_name: str, args: Mapping[str, Any], execution_id: str
) -> list[Violation]:
    """What SageMaker would refuse in the request this step sends (empty: accepted).

    Pending values (step properties not known yet) are skipped; everything else is checked.
    """
    operation = OPERATIONS.get(step_type)
    if operation is None:
        return []
    request = with_service_members(step_type, step_name, args, execution_id)
    found = _Violations()
    shape = service_model().operation_model(operation).input_shape
    if shape is not None:
        check(request, shape, found)
    return found.items


def with_service_members(
    step_type: str, step_name: str, args: Mapping[str, Any], execution_id: str
) -> dict[str, Any]:
    """The request as the service completes it: generated names added, derived names suffixed."""
    request = dict(args)
    if step_type in GENERATED_MEMBERS:
        request.setdefault(GENERATED_MEMBERS[step_type], GENERATED_NAME)
    if step_type == "EndpointConfig":
        base = request.get("EndpointConfigName") or step_name
        if not isinstance(base, Pending):
            request["EndpointConfigName"] = endpoint_config_name(str(base), execution_id)
    return request


def request_rejection(spec: StepSpec, args: Mapping[str, Any], execution_id: str) -> str | None:
    """Right before a step runs: why SageMaker would refuse its resolved request, or None."""
    violations = request_violations(spec.step_type, spec.name, args, execution_id)
    if not violations:
        return None
    more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
    return (
        f"SageMaker's {OPERATIONS[spec.step_type]} would refuse this request: {violations[0]}{more}"
    )


def check_start(
    plan: PipelineGraph,
    values: Mapping[str, Any],
    overrides: Mapping[str, Any],
    variables: Mapping[str, str],
) -> None:
    """Before an execution exists: refuse parameter values SageMaker would refuse.

    Every step's request is resolved with parameters and Execution.* variables only (fields
    that need an earlier step's properties are checked later, by :func:`request_rejection`).

    Raises:
        ParameterError: a field built from parameters is refused; names the parameter(s).
        ConfigError: a field fixed in the definition itself is refused.
    """
    scope = Scope(parameters=dict(values), execution=dict(variables), defer_steps=True)
    for spec in plan.steps:
        if spec.step_type not in OPERATIONS:
            continue
        job = GENERATED_MEMBERS.get(spec.step_type, "")
        own = {job: GENERATED_NAME} if job in JOB_NAME_VARIABLES else {}
        try:
            args = resolve(dict(spec.arguments), replace(scope, execution={**variables, **own}))
        except UnresolvedReference:
            continue  # refused with its reason when the step runs
        violations = request_violations(
            spec.step_type, spec.name, args, variables["PipelineExecutionId"]
        )
        if violations:
            raise _start_error(spec, violations[0], values, overrides)


def _start_error(
    spec: StepSpec, violation: Violation, values: Mapping[str, Any], overrides: Mapping[str, Any]
) -> ConfigError | ParameterError:
    where = f"step {spec.name}, {violation} (SageMaker's {OPERATIONS[spec.step_type]})"
    names = parameters_behind(spec.arguments, violation.field)
    if not names:
        return ConfigError(f"pipeline definition: {where}; fix the pipeline and --upsert it")
    given = [f"--param {n}={_plain(overrides[n])}" for n in names if n in overrides]
    defaults = [
        f"parameter {n}={_plain(values[n])} (its default)" for n in names if n not in overrides
    ]
    return ParameterError(f"{', '.join(given + defaults)}: {where}")


def _plain(value: Any) -> str:
    """A value as typed, unless it would break the one-line message (then its repr)."""
    text = str(value)
    return text if text.isprintable() else repr(text)


def parameters_behind(arguments: Mapping[str, Any], field: str) -> list[str]:
    """The pipeline parameters a request field's value is built from, in order of use."""
    raw = _raw_at(arguments, field)
    if raw is _MISSING:
        return []
    names = [r.partition(".")[2] for r in references(raw) if r.startswith("Parameters.")]
    return list(dict.fromkeys(names))


def _raw_at(value: Any, field: str) -> Any:
    """The definition's value at a validator path like ``A.B[0].C`` (stops at an expression)."""
    rest = field
    while rest:
        if _is_expression(value):
            return value
        index = re.match(r"\[(\d+)\]", rest)
        if index and isinstance(value, list) and int(index.group(1)) < len(value):
            value, rest = value[int(index.group(1))], rest[index.end() :]
            continue
        key = _longest_key(value, rest.removeprefix("."))
        if key is None:
            return _MISSING
        value, rest = value[key], rest.removeprefix(".")[len(key) :]
    return value


def _longest_key(value: Any, path: str) -> str | None:
    if not isinstance(value, dict):
        return None
    fits = [k for k in value if path == k or path.startswith((f"{k}.", f"{k}["))]
    return max(fits, key=len, default=None)


def _is_expression(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and len(value) == 1
        and ("Get" in value or "Std:Join" in value or "Std:JsonGet" in value)
    )


class _Violations:
    """The ``errors`` object request_check reports into, turned into Violations."""

    def __init__(self) -> None:
        self.items: list[Violation] = []

    def report(self, name: str, reason: str, **details: Any) -> None:
        field = name.removeprefix(".") or "request"
        for key in ("required_name", "unknown_param"):
            if key in details:
                field = f"{field}.{details[key]}" if name else str(details[key])
        self.items.append(Violation(field, _problem(reason, details)))


def _problem(reason: str, details: Mapping[str, Any]) -> str:
    value: Any = details.get("param")
    limit = details.get("max_allowed", details.get("min_allowed"))
    problems = {
        "missing required field": lambda: "is required but missing",
        "unknown field": lambda: "is not a member SageMaker accepts here",
        "invalid type": lambda: f"{_show(value)} must be {_types(details['valid_types'])}",
        "invalid enum": lambda: f"{_show(value)} is not one of {_choices(value, details['enum'])}",
        "too long": lambda: f"{_show(value)} is {len(value)} characters; at most {limit} allowed",
        "too many": lambda: f"has {value} entries; at most {limit} allowed",
        "too large": lambda: f"{value} is above the maximum {limit}",
        "invalid range": lambda: f"{value} is below the minimum {limit}",
        "invalid length": lambda: f"has length {value}; at least {limit} required",
        "pattern mismatch": lambda: (
            f"{_show(value)} does not match the pattern {details['pattern']}"
        ),
    }
    return problems.get(reason, lambda: f"is invalid ({reason})")()


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else f"{text[: _SHOWN_CHARS - 1]}…"


def _types(valid: list[str]) -> str:
    words = {
        "str": "a string",
        "int": "an integer",
        "float": "a number",
        "dict": "an object",
        "list": "a list",
        "bool": "true or false",
    }
    names = [re.sub(r"<class '([\w.]+)'>", r"\1", v) for v in valid]
    return " or ".join(dict.fromkeys(words[n] for n in names if n in words)) or ", ".join(names)


def _choices(value: Any, enum: list[str]) -> str:
    """All choices when few; else the nearest few to what was given, and how many exist."""
    if len(enum) <= _ENUM_SHOWN:
        return ", ".join(enum)
    nearest = difflib.get_close_matches(str(value), enum, n=_NEAREST, cutoff=0)
    return f"{', '.join(nearest)}, … ({len(enum)} values)"
