"""A request checked against its shape: botocore's ParamValidator rules, and the ones it skips.

botocore's ``ParamValidator`` checks types, required and unknown members, minimums and
tagged unions; it skips enums, maximums and the documented name patterns, which SageMaker's
service applies. The API gate needs all of them, and importing ``botocore.validate`` costs a
local ``--start`` ~55 ms (botocore's HTTP stack comes with it), so this is that walk over
shapes.py's model: the same reasons and details reported in the same order, plus ``invalid
enum``, ``too long``/``too many``/``too large`` and ``pattern mismatch``.
tests/pipeline/local/test_request_check.py holds its reports equal to botocore's validator
(with the same additions) over thousands of generated requests.

A :class:`~pipeline.local.expressions.Pending` value (a step property not known yet) is
skipped: it is checked once the step that needs it runs.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, Protocol

from pipeline.local.expressions import Pending
from pipeline.local.shapes import Shape


class Errors(Protocol):
    """Where problems go (botocore's ``ValidationErrors`` has the same method)."""

    def report(self, name: str, reason: str, **details: Any) -> None:
        """One problem of the field at ``name`` (``.A.B[0]``; "" is the request itself)."""


def check(value: Any, shape: Shape, errors: Errors, name: str = "") -> None:
    """Report every problem of ``value`` as a ``shape`` into ``errors``."""
    if isinstance(value, Pending):
        return
    if shape.type_name == "structure" and shape.is_document_type:
        _document(value, errors, name)
    else:
        _BY_TYPE[shape.type_name](value, shape, errors, name)
    _check_beyond_botocore(value, shape, errors, name)


def _valid(value: Any, kind: str, errors: Errors, name: str) -> bool:
    """botocore's ``type_check``: report a value not of the shape's Python types."""
    types, names = _python_types(kind)
    if isinstance(value, types):
        return True
    errors.report(name, "invalid type", param=value, valid_types=list(names))
    return False


def _python_types(kind: str) -> tuple[tuple[type, ...], tuple[str, ...]]:
    if kind in ("float", "double"):  # botocore also takes decimal.Decimal
        decimal = sys.modules.get("decimal")  # not imported: no value can be one
        extra: tuple[type, ...] = (decimal.Decimal,) if decimal is not None else ()
        return (float, *extra, int), (str(float), "<class 'decimal.Decimal'>", str(int))
    types = _TYPES[kind]
    return types, tuple(str(t) for t in types)


_TYPES: dict[str, tuple[type, ...]] = {
    "integer": (int,),
    "long": (int,),
    "boolean": (bool,),
    "string": (str,),
    "structure": (dict,),
    "map": (dict,),
    "list": (list, tuple),
}


def _range(name: str, value: Any, shape: Shape, reason: str, errors: Errors) -> None:
    """botocore's ``range_check``: a minimum (a host label's is 1); maximums are ours."""
    if "min" in shape.metadata:
        least = shape.metadata["min"]
    elif shape.serialization.get("hostLabel"):
        least = 1
    else:
        return
    if value < least:
        errors.report(name, reason, param=value, min_allowed=least)


def _structure(value: Any, shape: Shape, errors: Errors, name: str) -> None:
    if not _valid(value, "structure", errors, name):
        return
    if shape.is_tagged_union:
        if len(value) == 0:
            errors.report(name, "empty input", members=shape.members)
        elif len(value) > 1:
            errors.report(name, "more than one input", members=shape.members)
    for required in shape.metadata.get("required", []):
        if required not in value:
            errors.report(name, "missing required field", required_name=required, user_params=value)
    members = shape.members
    known = []
    for key in value:
        if key in members:
            known.append(key)
        else:
            errors.report(name, "unknown field", unknown_param=key, valid_names=list(members))
    for key in known:
        check(value[key], members[key], errors, f"{name}.{key}")


def _string(value: Any, shape: Shape, errors: Errors, name: str) -> None:
    if _valid(value, "string", errors, name):
        _range(name, len(value), shape, "invalid length", errors)


def _list(value: Any, shape: Shape, errors: Errors, name: str) -> None:
    if not _valid(value, "list", errors, name):
        return
    _range(name, len(value), shape, "invalid length", errors)
    item = shape.member
    for index, entry in enumerate(value):
        check(entry, item, errors, f"{name}[{index}]")


def _map(value: Any, shape: Shape, errors: Errors, name: str) -> None:
    if not _valid(value, "map", errors, name):
        return
    key_shape, value_shape = shape.key, shape.value
    for key, entry in value.items():
        check(key, key_shape, errors, f"{name} (key: {key})")
        check(entry, value_shape, errors, f"{name}.{key}")


def _number(kind: str) -> Callable[[Any, Shape, Errors, str], None]:
    def number(value: Any, shape: Shape, errors: Errors, name: str) -> None:
        if _valid(value, kind, errors, name):
            _range(name, value, shape, "invalid range", errors)

    return number


def _boolean(value: Any, shape: Shape, errors: Errors, name: str) -> None:
    _valid(value, "boolean", errors, name)


def _blob(value: Any, shape: Shape, errors: Errors, name: str) -> None:
    if isinstance(value, (bytes, bytearray, str)) or hasattr(value, "read"):
        return
    kinds = [str(bytes), str(bytearray), "file-like object"]
    errors.report(name, "invalid type", param=value, valid_types=kinds)


def _timestamp(value: Any, shape: Shape, errors: Errors, name: str) -> None:
    """A datetime or a string that parses to one (botocore's parser: no request the engine
    checks has a timestamp member, so botocore is imported only if one ever does)."""
    from botocore.utils import parse_to_aware_datetime

    try:
        parse_to_aware_datetime(value)
    except (TypeError, ValueError, AttributeError):
        kinds = ["<class 'datetime.datetime'>", "timestamp-string"]
        errors.report(name, "invalid type", param=value, valid_types=kinds)


def _document(value: Any, errors: Errors, name: str) -> None:
    if value is None:
        return
    if isinstance(value, dict):
        for key in value:
            _document(value[key], errors, key)  # botocore names a member by its key alone
    elif isinstance(value, list):
        for index, entry in enumerate(value):
            _document(entry, errors, f"{name}[{index}]")
    elif not isinstance(value, (str, int, bool, float)):
        kinds = [str(t) for t in (str, int, bool, float, list, dict)]
        errors.report(
            name,
            "invalid type for document",
            param=value,
            param_type=type(value),
            valid_types=kinds,
        )


_BY_TYPE: dict[str, Callable[[Any, Shape, Errors, str], None]] = {
    "structure": _structure,
    "string": _string,
    "list": _list,
    "map": _map,
    "integer": _number("integer"),
    "long": _number("long"),
    "float": _number("float"),
    "double": _number("double"),
    "boolean": _boolean,
    "blob": _blob,
    "timestamp": _timestamp,
}


def _check_beyond_botocore(value: Any, shape: Shape, errors: Errors, name: str) -> None:
    meta, kind = shape.metadata, shape.type_name
    if kind == "string" and isinstance(value, str):
        _check_string(value, shape, errors, name)
    elif "max" not in meta:
        return
    elif kind in ("list", "map") and isinstance(value, (list, tuple, dict)):
        if len(value) > meta["max"]:
            errors.report(name, "too many", param=len(value), max_allowed=meta["max"])
    elif _is_number(value) and value > meta["max"]:
        errors.report(name, "too large", param=value, max_allowed=meta["max"])


def _check_string(value: str, shape: Shape, errors: Errors, name: str) -> None:
    meta = shape.metadata
    if shape.enum and value not in shape.enum:
        errors.report(name, "invalid enum", param=value, enum=list(shape.enum))
    elif "max" in meta and len(value) > meta["max"]:
        errors.report(name, "too long", param=value, max_allowed=meta["max"])
    elif "pattern" in meta and not _matches(meta["pattern"], value):
        errors.report(name, "pattern mismatch", param=value, pattern=meta["pattern"])


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _matches(pattern: str, value: str) -> bool:
    compiled = compile_pattern(pattern)
    return compiled is None or compiled.fullmatch(value) is not None


@functools.cache
def compile_pattern(pattern: str) -> Any:
    """A service-model pattern (Java regex syntax) compiled for Python; None if impossible.

    The ``regex`` module understands Java's ``\\p{L}``-style classes; Java writes characters
    beyond U+FFFF as UTF-16 surrogate pairs, which Python spells as one code point.
    """
    import regex

    python = pattern.replace("\\uD800\\uDC00-\\uDBFF\\uDFFF", "\\U00010000-\\U0010FFFF")
    try:
        return regex.compile(python)
    except regex.error:
        return None
