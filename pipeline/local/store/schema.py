"""One schema check for every record the store reads: the records' own typed models.

Each record has a typed model: the dataclasses the engine already uses (ExecutionRecord,
StepRecord) or a TypedDict for the records that stay dicts (a pipeline version, a cache
entry, a registry record, an object's digest). :func:`read_record` reads a file through
pipeline.local.store.atomic.read_json (size and depth bounded) and checks the value
against the model's annotations; anything else is one StoreCorruptError naming the file
and the field ("field status: expected a string, got a list"), never a KeyError or
TypeError traceback three rooms later.

Why typed models checked by their annotations, not pydantic or jsonschema (both installed):
the models already exist and stay the one description of each record (a JSON Schema would
be a second one to keep in step), and every command reads records: importing pydantic costs
~60 ms and jsonschema ~67 ms on this machine (``python -X importtime``), more than a rerun's
whole record reading. The check is ~100 lines, table-tested in tests/pipeline/local/store/.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import string
import types
import typing
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypedDict, get_args, get_origin, get_type_hints

from pipeline.local.store.atomic import MAX_DEPTH, damaged, depth_over, read_json


class _PipelineVersionBase(TypedDict):
    PipelineName: str
    PipelineDefinition: str
    Version: int


class PipelineVersionRecord(_PipelineVersionBase, total=False):
    """``pipelines/<name>/versions/<n>.json``: one upserted definition (never rewritten)."""

    CreationTime: str
    PipelineDescription: str | None
    RoleArn: str | None


class _CacheEntryBase(TypedDict):
    execution_id: str
    ended_at: datetime
    properties: dict[str, Any]


class CacheEntryRecord(_CacheEntryBase, total=False):
    """``cache/<pipeline>/<key>.json``: a successful step run CacheConfig may reuse, with
    the digests of its key's attributes (to say which changed when a later run misses)."""

    attributes: dict[str, str]


class ObjectDigestRecord(TypedDict):
    """``digests/<bucket>/<key>``: what an object held when it was stored (its ETag)."""

    sha256: str
    size: int


class ModelPackageRecord(TypedDict, total=False):
    """``registry/<group>/versions/<n>.json``: a model package version (the keys read)."""

    ModelPackageGroupName: str
    ModelPackageVersion: int
    ModelPackageArn: str
    ModelApprovalStatus: str
    CreationTime: str
    InferenceSpecification: dict[str, Any]
    ModelMetrics: dict[str, Any]


class EndpointRecord(TypedDict, total=False):
    """``endpoints/<name>/endpoint.json``: a live endpoint (pipeline.local.endpoint)."""

    name: str
    status: str
    config_name: str
    model_dir: str | None
    environment: dict[str, str]
    pid: int | None
    port: int | None
    url: str | None
    failure_reason: str | None
    created_at: str
    updated_at: str
    history: list[dict[str, Any]]
    pending: dict[str, Any] | None  # a hot swap on its way (pipeline.local.endpoint)


class NamedRecord(TypedDict, total=False):
    """A model, an endpoint config or a model package group: a Create* request kept."""

    CreationTime: str


class _DefinitionBase(TypedDict):
    Version: str


class DefinitionModel(_DefinitionBase, total=False):
    """A pipeline definition's top level (CONTRACTS.md "Definition JSON")."""

    Metadata: dict[str, Any]
    Parameters: list[ParameterModel]
    PipelineExperimentConfig: Any
    Steps: list[StepModel]


class _ParameterBase(TypedDict):
    Name: str


class ParameterModel(_ParameterBase, total=False):
    """One pipeline parameter."""

    Type: Literal["String", "Integer", "Float", "Boolean"]
    DefaultValue: Any
    EnumValues: list[Any]


class _StepBase(TypedDict):
    Name: str
    Type: str


class StepModel(_StepBase, total=False):
    """One step (a Condition's IfSteps and ElseSteps hold more of them)."""

    Arguments: dict[str, Any]
    DependsOn: list[str]
    CacheConfig: dict[str, Any]
    RetryPolicies: list[dict[str, Any]]
    PropertyFiles: list[dict[str, Any]]
    DisplayName: str
    Description: str


MAX_DEFINITION_BYTES = 1_048_576
"""PipelineDefinition's maximum length in SageMaker's API model."""

MAX_STEP_NAME = 64
"""StepName's maximum length in SageMaker's API model; a step's record, log and job folder
are named after it, so with it every file name the store makes fits (255 bytes)."""

_STEP_NAME_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-_")


def definition_problem(text: str) -> str | None:
    """What makes a definition unreadable before the engine parses it (None if nothing):
    its size, its nesting, its shape (parameters with a Name, steps with a Name and a Type)
    and step names that fit SageMaker's StepName (letters, digits, - and _, at most 64)."""
    if len(text.encode()) > MAX_DEFINITION_BYTES:
        return f"is larger than {MAX_DEFINITION_BYTES} bytes, SageMaker's limit"
    try:
        doc = json.loads(text)
    except RecursionError:
        return f"is nested deeper than {MAX_DEPTH} levels"
    except ValueError as err:
        return f"is not valid JSON: {err}"
    if depth_over(doc, MAX_DEPTH):
        return f"is nested deeper than {MAX_DEPTH} levels"
    problem = problem_of(doc, DefinitionModel, "")
    if problem is not None:
        return problem
    return _step_name_problem(doc.get("Steps") or [])


def _step_name_problem(steps: list[Any]) -> str | None:
    """The first step (a Condition's branches included) whose name SageMaker would refuse."""
    todo = [(f"Steps[{i}]", step) for i, step in enumerate(steps)]
    while todo:
        where, step = todo.pop(0)
        name = step["Name"]
        if len(name) > MAX_STEP_NAME or not name or not set(name) <= _STEP_NAME_CHARACTERS:
            shown = name if len(name) <= 40 else f"{name[:40]}..."
            return (
                f"field {where}.Name: step name {shown!r} ({len(name)} characters) must be 1 "
                f"to {MAX_STEP_NAME} letters, digits, '-' or '_' (SageMaker's StepName)"
            )
        arguments = step.get("Arguments") or {}
        for branch in ("IfSteps", "ElseSteps"):
            inner = arguments.get(branch) or []
            problem = problem_of(inner, list[StepModel], f"{where}.Arguments.{branch}")
            if problem is not None:
                return problem
            todo += [(f"{where}.Arguments.{branch}[{i}]", s) for i, s in enumerate(inner)]
    return None


def read_record(path: Path, model: type) -> dict[str, Any]:
    """The JSON object at ``path`` once it has ``model``'s shape (StoreCorruptError if not).

    The object comes back as read (for a dataclass model too: the caller builds it).
    """
    value = read_json(path)
    problem = problem_of(value, model, "")
    if problem is not None:
        raise damaged(path, problem)
    return typing.cast(dict[str, Any], value)


def problem_of(value: Any, hint: Any, where: str) -> str | None:
    """What is wrong with ``value`` as a ``hint`` (None if nothing): "field x: expected ..."."""
    kind, origin, args = _kind_of(hint)
    if kind == "any":
        return None
    if kind == "record":
        return _record_problem(value, hint, where)
    if kind == "scalar":
        return _scalar_problem(value, hint, where)
    if origin in (typing.Union, types.UnionType):
        if any(problem_of(value, a, where) is None for a in args):
            return None
        return _expected(where, " or ".join(_word(a) for a in args), value)
    if origin is Literal:
        return None if value in args else _expected(where, " or ".join(map(repr, args)), value)
    if origin in (list, tuple, Sequence):
        if not isinstance(value, list):
            return _expected(where, "a list", value)
        inner = args[0] if args else Any
        return next(
            (p for i, v in enumerate(value) if (p := problem_of(v, inner, f"{where}[{i}]"))),
            None,
        )
    if origin in (dict, Mapping):
        if not isinstance(value, dict):
            return _expected(where, "an object", value)
        inner = args[1] if len(args) == 2 else Any
        return next(
            (p for k, v in value.items() if (p := problem_of(v, inner, _field(where, k)))),
            None,
        )
    return _scalar_problem(value, hint, where)


@functools.cache
def _kind_of(hint: Any) -> tuple[str, Any, tuple[Any, ...]]:
    """(any | record | scalar | generic, origin, args) of a type hint, worked out once per
    hint: a listing checks ~200,000 values, and asking typing each time was a third of it."""
    if hint is Any or hint is object:
        return "any", None, ()
    if _is_record_model(hint):
        return "record", None, ()
    origin, args = get_origin(hint), get_args(hint)
    return ("scalar" if origin is None else "generic"), origin, args


def _scalar_problem(value: Any, hint: Any, where: str) -> str | None:
    if hint is type(None) or hint is None:
        return None if value is None else _expected(where, "null", value)
    if hint is bool:
        return None if isinstance(value, bool) else _expected(where, "true or false", value)
    if hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else _expected(where, "a whole number", value)
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else _expected(where, "a number", value)
    if hint is str:
        return None if isinstance(value, str) else _expected(where, "a string", value)
    if hint is datetime:
        if isinstance(value, str):
            try:
                datetime.fromisoformat(value)
                return None
            except ValueError:
                pass
        return _expected(where, "an ISO 8601 time", value)
    if hint in (dict, Mapping):
        return None if isinstance(value, dict) else _expected(where, "an object", value)
    if hint in (list, Sequence):
        return None if isinstance(value, list) else _expected(where, "a list", value)
    return None  # a type the stored form does not constrain


def _is_record_model(hint: Any) -> bool:
    return isinstance(hint, type) and (dataclasses.is_dataclass(hint) or typing.is_typeddict(hint))


def _record_problem(value: Any, model: type, where: str) -> str | None:
    if not isinstance(value, dict):
        return _expected(where, "an object", value) if where else _top(value)
    hints, required = _fields(model)
    missing = sorted(required - value.keys())
    if missing:
        return f"field {_field(where, missing[0])} is missing"
    for name, hint in hints.items():
        if name in value:
            problem = problem_of(value[name], hint, _field(where, name))
            if problem is not None:
                return problem
    return None


@functools.cache
def _fields(model: type) -> tuple[dict[str, Any], frozenset[str]]:
    """(field -> type, required fields) of a dataclass or TypedDict, read once per model."""
    hints = get_type_hints(model)
    if typing.is_typeddict(model):
        return hints, frozenset(getattr(model, "__required_keys__", frozenset()))
    fields = [f for f in dataclasses.fields(model) if f.name != "extra"]
    required = {
        f.name
        for f in fields
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    return {f.name: hints[f.name] for f in fields}, frozenset(required)


def _field(where: str, name: object) -> str:
    return f"{where}.{name}" if where else str(name)


def _top(value: Any) -> str:
    return f"expected a JSON object, got {_kind(value)}"


def _expected(where: str, wanted: str, value: Any) -> str:
    if not where:
        return f"expected {wanted}, got {_kind(value)}"
    return f"field {where}: expected {wanted}, got {_kind(value)}"


def _word(hint: Any) -> str:
    words = {str: "a string", int: "a whole number", float: "a number", bool: "true or false"}
    if hint is type(None):
        return "null"
    if get_origin(hint) in (dict, Mapping) or hint in (dict, Mapping) or _is_record_model(hint):
        return "an object"
    if get_origin(hint) in (list, tuple, Sequence):
        return "a list"
    if hint is datetime:
        return "an ISO 8601 time"
    return words.get(hint, getattr(hint, "__name__", str(hint)))


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    names = {dict: "an object", list: "a list", str: "a string", int: "a number"}
    found = names.get(type(value), "a number" if isinstance(value, float) else type(value).__name__)
    return f"{found} {json.dumps(value)[:40]}" if isinstance(value, (str, int, float)) else found


__all__ = [
    "MAX_DEPTH",
    "MAX_STEP_NAME",
    "CacheEntryRecord",
    "DefinitionModel",
    "EndpointRecord",
    "ModelPackageRecord",
    "NamedRecord",
    "ObjectDigestRecord",
    "PipelineVersionRecord",
    "definition_problem",
    "depth_over",
    "problem_of",
    "read_record",
]
