"""shapes.py reads the service model as botocore.model does: every answer the same."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.model import ServiceModel as BotocoreModel

from pipeline.local import gate_model, shapes
from tests.cli_runner import REPO

DATA = gate_model.subset(gate_model._full_model(), sorted(gate_model.OPERATIONS))


def _same(ours: Any, theirs: Any, seen: set[str], where: str) -> int:
    """Assert two shapes agree on everything the engine reads; returns shapes compared."""
    assert (ours.name, ours.type_name) == (theirs.name, theirs.type_name), where
    assert ours.metadata == theirs.metadata, where
    assert ours.serialization == theirs.serialization, where
    if ours.type_name == "string":  # botocore has these only on its own classes
        assert ours.enum == theirs.enum, where
    if ours.type_name == "structure":
        assert ours.required_members == theirs.required_members, where
        assert ours.is_document_type == theirs.is_document_type, where
        assert ours.is_tagged_union == theirs.is_tagged_union, where
    key = f"{ours.name}{sorted(ours.serialization.items())}"
    if key in seen:  # recursive shapes: each (shape, traits) once
        return 0
    seen.add(key)
    count = 1
    if ours.type_name == "structure":
        assert list(ours.members) == list(theirs.members), where
        for name in ours.members:
            count += _same(ours.members[name], theirs.members[name], seen, f"{where}.{name}")
    elif ours.type_name == "list":
        count += _same(ours.member, theirs.member, seen, f"{where}[]")
    elif ours.type_name == "map":
        count += _same(ours.key, theirs.key, seen, f"{where}(key)")
        count += _same(ours.value, theirs.value, seen, f"{where}{{}}")
    return count


@pytest.mark.parametrize("operation", sorted(gate_model.OPERATIONS))
def test_every_shape_an_operation_reaches_reads_as_botocore_reads_it(operation: str) -> None:
    ours = shapes.ServiceModel(DATA).operation_model(operation)
    theirs = BotocoreModel(DATA, "sagemaker").operation_model(operation)
    compared = 0
    for end in ("input_shape", "output_shape"):
        mine, other = getattr(ours, end), getattr(theirs, end)
        assert (mine is None) == (other is None)
        if mine is not None:
            compared += _same(mine, other, set(), f"{operation}.{end}")
    assert compared > 5  # the walk went somewhere


def test_a_member_reference_lays_its_traits_over_the_shape() -> None:
    data = {
        "operations": {"Op": {"input": {"shape": "In"}}},
        "shapes": {
            "In": {
                "type": "structure",
                "members": {"A": {"shape": "Str", "locationName": "a", "max": 3}},
            },
            "Str": {"type": "string", "min": 1, "max": 10, "pattern": "x+"},
        },
    }
    ours = shapes.ServiceModel(data).operation_model("Op").input_shape
    theirs = BotocoreModel(data, "sagemaker").operation_model("Op").input_shape
    assert ours is not None
    assert ours.members["A"].metadata == {"min": 1, "max": 3, "pattern": "x+"}
    assert ours.members["A"].serialization == {"name": "a"}
    assert _same(ours, theirs, set(), "Op") == 2
    assert shapes.ServiceModel(data).shape_for("Str").metadata["max"] == 10


def test_the_engine_checks_a_request_without_importing_botocores_model(tmp_path: Path) -> None:
    """The point of shapes.py: a --start no longer pays botocore's HTTP stack (~55 ms).
    (The store's cached model is written first, as any earlier run leaves it.)"""
    gate_model.load_service_model(gate_model.OPERATIONS, tmp_path)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from pipeline.local.api_gate import cache_service_model_in, request_violations\n"
        "from pipeline.local.describe import described\n"
        f"cache_service_model_in(Path({str(tmp_path)!r}))\n"
        "found = request_violations('Model', 'S', {'PrimaryContainer': {'Image': 1}}, 'e1')\n"
        "print([str(v) for v in found])\n"
        "print(described('Model', {'ModelName': 'm', 'Nope': 1}, {}))\n"
        "print(sorted(m for m in sys.modules if m.startswith('botocore.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    refused, response, botocore_modules = done.stdout.splitlines()
    assert refused == "['PrimaryContainer.Image: 1 must be a string']"
    assert response == "{'ModelName': 'm'}"
    assert botocore_modules == "[]"
