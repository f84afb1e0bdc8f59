"""request_check.py reports what botocore's ParamValidator (with the gate's additions) reports.

The oracle is the gate as it was before request_check.py: botocore's validator, told every
shape has constraints (so list items are walked), skipping Pending values and adding the
enum, max and pattern rules after botocore's own. Both run over thousands of requests
generated from the six operations' shapes — mostly well-formed, with wrong types, missing
and unknown members, boundary lengths and numbers mixed in at random — and must report the
same fields, reasons and details in the same order.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest
from botocore.model import ServiceModel as BotocoreModel
from botocore.validate import ParamValidator

from pipeline.local import api_gate, gate_model, request_check, shapes
from pipeline.local.expressions import Pending

DATA = gate_model.subset(gate_model._full_model(), sorted(gate_model.OPERATIONS))
REQUESTS_PER_OPERATION = 600
ODD_VALUES = (
    None,
    0,
    -1,
    1,
    2**40,
    1.5,
    -0.5,
    True,
    "",
    "x",
    "ml.m5.large",
    "a" * 2000,
    [],
    ["x"],
    (1, 2),
    {},
    {"NotAMember": 1},
    b"bytes",
    Decimal("2.5"),
    Pending("Steps.Earlier.Properties.X"),
)
STRINGS = (
    "arn:aws:iam::123456789012:role/Role",
    "s3://bucket/key",
    "ml.m5.large",
    "File",
    "Approved",
    "name-1",
    "bad name!",
)


class Oracle(ParamValidator):  # type: ignore[misc]
    """api_gate's validator before request_check.py replaced it."""

    def _shape_has_constraints(self, shape: Any) -> bool:
        return True

    def _validate(self, params: Any, shape: Any, errors: Any, name: str) -> None:
        if isinstance(params, Pending):
            return
        super()._validate(params, shape, errors, name)
        request_check._check_beyond_botocore(params, shape, errors, name)


class Reports:
    """Every report, comparable (a union's ``members`` as their names)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, dict[str, Any]]] = []

    def report(self, name: str, reason: str, **details: Any) -> None:
        shown = {k: list(v) if k == "members" else v for k, v in details.items()}
        self.items.append((name, reason, shown))


def generate(shape: Any, rng: random.Random, depth: int = 0) -> Any:
    """A value for ``shape``: usually well-formed, sometimes not (more often near leaves)."""
    if rng.random() < 0.06:
        return rng.choice(ODD_VALUES)
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        value = {}
        required = set(meta.get("required", []))
        for name, member in shape.members.items():
            wanted = 0.93 if name in required else (0.35 if depth < 6 else 0.0)
            if rng.random() < wanted:
                value[name] = generate(member, rng, depth + 1)
        if rng.random() < 0.04:
            value["NotAMember"] = "x"
        return value
    if kind == "list":
        return [generate(shape.member, rng, depth + 1) for _ in range(rng.choice((0, 1, 1, 2, 3)))]
    if kind == "map":
        return {
            str(generate(shape.key, rng, depth + 1)): generate(shape.value, rng, depth + 1)
            for _ in range(rng.choice((0, 1, 2)))
        }
    if kind == "string":
        return _string(meta, rng)
    if kind in ("integer", "long", "float", "double"):
        return _number(kind, meta, rng)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "timestamp":
        return rng.choice(("2026-12-08T00:00:00Z", "not a time", 1700000000))
    return rng.choice((b"blob", "blob", 3))


def _string(meta: dict[str, Any], rng: random.Random) -> str:
    choices = [*STRINGS, *meta.get("enum", [])[:5]]
    for bound in ("min", "max"):
        if bound in meta and meta[bound] <= 3000:
            choices += ["a" * meta[bound], "a" * (meta[bound] + (1 if bound == "max" else -1))]
    return rng.choice(choices)


def _number(kind: str, meta: dict[str, Any], rng: random.Random) -> Any:
    choices: list[Any] = [0, 1, 3600, -5]
    for bound in ("min", "max"):
        if bound in meta:
            choices += [meta[bound], meta[bound] + 1, meta[bound] - 1]
    value = rng.choice(choices)
    return float(value) + 0.5 if kind in ("float", "double") and rng.random() < 0.5 else value


@pytest.mark.parametrize("operation", sorted(api_gate.OPERATIONS.values()))
def test_reports_equal_botocores_validator_with_the_gates_additions(operation: str) -> None:
    ours = shapes.ServiceModel(DATA).operation_model(operation).input_shape
    theirs = BotocoreModel(DATA, "sagemaker").operation_model(operation).input_shape
    rng = random.Random(f"request-check-{operation}")
    reasons: set[str] = set()
    for _ in range(REQUESTS_PER_OPERATION):
        request = generate(theirs, rng)
        mine, oracle = Reports(), Reports()
        request_check.check(request, ours, mine)
        Oracle()._validate(request, theirs, oracle, "")
        assert mine.items == oracle.items, request
        reasons.update(reason for _, reason, _ in mine.items)
    # the generated requests exercised the rules, not just well-formed input
    assert {"missing required field", "unknown field", "invalid type"} <= reasons


def test_the_generated_requests_reach_every_rule() -> None:
    """Across the six operations, every reason the gate words is produced at least once."""
    rng = random.Random("request-check-rules")
    reasons: set[str] = set()
    model = shapes.ServiceModel(DATA)
    for operation in api_gate.OPERATIONS.values():
        shape = model.operation_model(operation).input_shape
        for _ in range(REQUESTS_PER_OPERATION):
            found = Reports()
            request_check.check(generate(shape, rng), shape, found)
            reasons.update(reason for _, reason, _ in found.items)
    assert reasons >= {
        "missing required field",
        "unknown field",
        "invalid type",
        "invalid enum",
        "too long",
        "too large",
        "invalid range",
        "invalid length",
        "pattern mismatch",
    }


def test_a_pending_value_is_checked_later_not_now() -> None:
    shape = shapes.ServiceModel(DATA).operation_model("CreateModel").input_shape
    found = Reports()
    request_check.check(
        {"ModelName": Pending("Steps.A.Properties.B"), "PrimaryContainer": {"Image": 5}},
        shape,
        found,
    )
    assert [(name, reason) for name, reason, _ in found.items] == [
        (".PrimaryContainer.Image", "invalid type")
    ]
