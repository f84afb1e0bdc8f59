"""The gate's part of the service model: the same rules as botocore's full model, cached as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import botocore
import pytest

from pipeline.local import gate_model
from pipeline.local.api_gate import OPERATIONS

OPS = sorted(OPERATIONS.values())


def _members(model: object, operation: str) -> dict[str, str]:
    shape = model.operation_model(operation).input_shape  # type: ignore[attr-defined]
    return {name: member.type_name for name, member in shape.members.items()}


def test_the_subset_keeps_every_operation_input_the_gate_reads(tmp_path: Path) -> None:
    full = gate_model.load_service_model(OPS, None)
    cached = gate_model.load_service_model(OPS, tmp_path)
    again = gate_model.load_service_model(OPS, tmp_path)
    [path] = list(tmp_path.iterdir())
    assert path.name == f"sagemaker-model-botocore-{botocore.__version__}.json"
    data = json.loads(path.read_text())
    assert sorted(data["operations"]) == OPS
    for op in OPS:
        assert _members(full, op) == _members(cached, op) == _members(again, op)
    processing = [
        model.operation_model("CreateProcessingJob")  # type: ignore[attr-defined]
        .input_shape.members["ProcessingResources"]
        .members["ClusterConfig"]
        .members["InstanceType"]
        .enum
        for model in (full, again)
    ]
    assert processing[0] == processing[1]
    assert "ml.m5.large" in processing[1] and "ml.p4d.24xlarge" not in processing[1]


def test_a_damaged_or_partial_cache_is_rebuilt(tmp_path: Path) -> None:
    gate_model.load_service_model(OPS, tmp_path)
    [path] = list(tmp_path.iterdir())
    path.write_text("{not json")
    model = gate_model.load_service_model(OPS, tmp_path)
    assert "TrainingJobName" in _members(model, "CreateTrainingJob")
    assert sorted(json.loads(path.read_text())["operations"]) == OPS
    path.write_text(json.dumps({"operations": {"CreateModel": {}}}))
    assert "ModelName" in _members(gate_model.load_service_model(OPS, tmp_path), "CreateModel")


def test_a_new_store_starts_from_the_checkouts_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first store reads botocore's whole model and keeps the subset in both places;
    a second store's first run reads the checkout's copy and keeps its own."""
    shared = tmp_path / "checkout"
    first = gate_model.load_service_model(OPS, tmp_path / "a", shared)

    def no_full_load() -> None:
        raise AssertionError("botocore's whole model was read again")

    monkeypatch.setattr(gate_model, "_full_model", no_full_load)
    second = gate_model.load_service_model(OPS, tmp_path / "b", shared)
    for op in OPS:
        assert _members(first, op) == _members(second, op)
    assert [p.name for p in (tmp_path / "b").iterdir()] == [p.name for p in shared.iterdir()]


def test_a_damaged_checkout_copy_is_read_again_from_botocore(tmp_path: Path) -> None:
    shared = tmp_path / "checkout"
    gate_model.load_service_model(OPS, tmp_path / "a", shared)
    [copy] = list(shared.iterdir())
    copy.write_text("{not json")
    model = gate_model.load_service_model(OPS, tmp_path / "b", shared)
    assert "TrainingJobName" in _members(model, "CreateTrainingJob")
    assert sorted(json.loads(copy.read_text())["operations"]) == OPS
