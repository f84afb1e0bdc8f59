"""SageMaker's service model read the way botocore reads it, without importing botocore.

``botocore.model`` pulls in botocore's HTTP stack (urllib3, http.client, ssl, dateutil, its
auth and utils): ~55 ms of every local ``--start``, whose whole rerun is ~0.5 s, to read a
JSON file of shapes (gate_model.py keeps the part the engine uses). These classes answer the
questions the engine asks of that JSON (an operation's input and output shape; a shape's
type, members, list member, map key and value, enum and constraints) with botocore's
semantics: a member reference's own traits override its target shape's (botocore's
``ShapeResolver``), metadata and serialization carry the same keys. tests/pipeline/local/
test_shapes.py holds every answer equal to botocore's over the whole subset.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

# botocore.model.Shape.METADATA_ATTRS and SERIALIZED_ATTRS: the keys each view keeps
METADATA_ATTRS = (
    "required",
    "min",
    "max",
    "pattern",
    "sensitive",
    "enum",
    "idempotencyToken",
    "error",
    "exception",
    "endpointdiscoveryid",
    "retryable",
    "document",
    "union",
    "contextParam",
    "clientContextParams",
    "requiresLength",
)
SERIALIZED_ATTRS = (
    "locationName",
    "queryName",
    "flattened",
    "location",
    "payload",
    "streaming",
    "timestampFormat",
    "xmlNamespace",
    "resultWrapper",
    "xmlAttribute",
    "eventstream",
    "event",
    "eventheader",
    "eventpayload",
    "jsonvalue",
    "hostLabel",
)


class Shape:
    """One shape of the model, with the traits of the reference that reached it."""

    def __init__(self, name: str, model: Mapping[str, Any], shapes: Mapping[str, Any]) -> None:
        self.name = name
        self.type_name: str = model["type"]
        self._model = model
        self._shapes = shapes

    @functools.cached_property
    def metadata(self) -> dict[str, Any]:
        """min, max, pattern, enum, required, ... as the shape (or its reference) sets them."""
        return {key: self._model[key] for key in METADATA_ATTRS if key in self._model}

    @functools.cached_property
    def serialization(self) -> dict[str, Any]:
        """Wire traits (botocore renames locationName to name)."""
        found = {key: self._model[key] for key in SERIALIZED_ATTRS if key in self._model}
        if "locationName" in found:
            found["name"] = found.pop("locationName")
        return found

    @property
    def enum(self) -> list[str]:
        """The allowed values of an enum string (empty: any string)."""
        return list(self.metadata.get("enum", []))

    @property
    def required_members(self) -> list[str]:
        """The members a structure must have."""
        return list(self.metadata.get("required", []))

    @property
    def is_document_type(self) -> bool:
        """A free-form JSON document (any JSON value is accepted)."""
        return bool(self.metadata.get("document", False))

    @property
    def is_tagged_union(self) -> bool:
        """A structure of which exactly one member is set."""
        return bool(self.metadata.get("union", False))

    @functools.cached_property
    def members(self) -> dict[str, Shape]:
        """A structure's members by name, in the model's order (empty for other types)."""
        refs = self._model.get("members", {})
        return {name: resolve(ref, self._shapes) for name, ref in refs.items()}

    @functools.cached_property
    def member(self) -> Shape:
        """A list's item shape."""
        return resolve(self._model["member"], self._shapes)

    @functools.cached_property
    def key(self) -> Shape:
        """A map's key shape."""
        return resolve(self._model["key"], self._shapes)

    @functools.cached_property
    def value(self) -> Shape:
        """A map's value shape."""
        return resolve(self._model["value"], self._shapes)

    def __repr__(self) -> str:
        return f"<Shape({self.name})>"


def resolve(ref: Mapping[str, Any], shapes: Mapping[str, Any]) -> Shape:
    """The shape a ``{"shape": name, ...traits}`` reference names, its traits laid over it."""
    traits = dict(ref)
    name = traits.pop("shape")
    model = shapes[name]
    return Shape(name, {**model, **traits} if traits else model, shapes)


class OperationModel:
    """One operation: its input (request) and output (response) shapes."""

    def __init__(self, name: str, model: Mapping[str, Any], shapes: Mapping[str, Any]) -> None:
        self.name = name
        self._model = model
        self._shapes = shapes

    @functools.cached_property
    def input_shape(self) -> Shape | None:
        """The request's shape (None: the operation takes no input)."""
        ref = self._model.get("input")
        return None if ref is None else resolve(ref, self._shapes)

    @functools.cached_property
    def output_shape(self) -> Shape | None:
        """The response's shape (None: the operation returns nothing)."""
        ref = self._model.get("output")
        return None if ref is None else resolve(ref, self._shapes)


class ServiceModel:
    """A service model JSON document (botocore's ``service-2`` format), read-only."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._operations: Mapping[str, Any] = data["operations"]
        self._shapes: Mapping[str, Any] = data["shapes"]
        self._seen: dict[str, OperationModel] = {}

    @property
    def operation_names(self) -> list[str]:
        """Every operation the document holds."""
        return list(self._operations)

    def operation_model(self, name: str) -> OperationModel:
        """Operation ``name`` (KeyError: not in this model)."""
        found = self._seen.get(name)
        if found is None:
            found = self._seen[name] = OperationModel(name, self._operations[name], self._shapes)
        return found

    def shape_for(self, name: str) -> Shape:
        """The shape named ``name`` (KeyError: not in this model)."""
        return Shape(name, self._shapes[name], self._shapes)
