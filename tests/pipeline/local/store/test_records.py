"""Pipeline versions on disk: unchanged upserts store nothing, racing upserts lose nothing."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pipeline.local.store.records import ExecutionRecord, Records


def record(definition: str, role: str | None = None, description: str = "d") -> dict[str, Any]:
    return {
        "PipelineName": "p",
        "PipelineDefinition": definition,
        "RoleArn": role,
        "PipelineDescription": description,
        "CreationTime": "2026-01-01T00:00:00+00:00",
    }


def versions(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "pipelines" / "p" / "versions").iterdir())


def test_an_unchanged_pipeline_stores_no_new_version(tmp_path: Path) -> None:
    records = Records(tmp_path)
    assert records.add_pipeline_version("p", record("A")) == (1, True)
    assert records.add_pipeline_version("p", {**record("A"), "CreationTime": "later"}) == (1, False)
    assert records.add_pipeline_version("p", record("B")) == (2, True)
    assert versions(tmp_path) == ["1.json", "2.json"]


def test_a_new_role_or_description_is_a_new_version(tmp_path: Path) -> None:
    records = Records(tmp_path)
    records.add_pipeline_version("p", record("A"))
    assert records.add_pipeline_version("p", record("A", role="arn:role/x")) == (2, True)
    assert records.add_pipeline_version("p", record("A", "arn:role/x", "new")) == (3, True)
    assert records.pipeline("p")["PipelineDescription"] == "new"


def race(records: Records, definitions: list[str]) -> list[tuple[int, bool]]:
    start = threading.Barrier(len(definitions))

    def upsert(definition: str) -> tuple[int, bool]:
        start.wait()
        return records.add_pipeline_version("p", record(definition))

    with ThreadPoolExecutor(len(definitions)) as pool:
        return list(pool.map(upsert, definitions))


def test_racing_upserts_of_different_definitions_each_get_their_own_version(
    tmp_path: Path,
) -> None:
    definitions = [f"definition {n}" for n in range(8)]
    results = race(Records(tmp_path), definitions)
    assert sorted(results) == [(n, True) for n in range(1, 9)]
    stored = {}
    for name in versions(tmp_path):
        data = json.loads((tmp_path / "pipelines" / "p" / "versions" / name).read_text())
        assert data["Version"] == int(name.removesuffix(".json"))
        stored[data["Version"]] = data["PipelineDefinition"]
    assert sorted(stored.values()) == definitions
    assert all(stored[number] == definitions[n] for n, (number, _) in enumerate(results))


def test_racing_upserts_of_one_definition_store_it_once(tmp_path: Path) -> None:
    results = race(Records(tmp_path), ["same"] * 8)
    assert sorted(results) == [(1, False)] * 7 + [(1, True)]
    assert versions(tmp_path) == ["1.json"]


# An execution.json as the store held it before ExecutionRecord existed (a finished run).
OLD_EXECUTION = {
    "pipeline_name": "moonpipe",
    "pipeline_version": 3,
    "execution_id": "abc123def456",
    "execution_arn": "arn:aws:sagemaker:us-east-1:000000000000:pipeline/moonpipe/execution/abc",
    "status": "Succeeded",
    "parameters": {"HiddenDim": 40, "LearningRate": 0.05},
    "started_at": "2026-11-30T10:00:00+00:00",
    "ended_at": "2026-11-30T10:00:18+00:00",
    "failure_reason": None,
    "ran": True,
    "runner": {"pid": 4242, "started": 123.5},
}


def test_an_old_execution_record_loads_and_is_written_back_unchanged(tmp_path: Path) -> None:
    records = Records(tmp_path)
    path = tmp_path / "executions" / "abc123def456" / "execution.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(OLD_EXECUTION, indent=2))
    loaded = records.execution("abc123def456")
    assert isinstance(loaded, ExecutionRecord)
    assert (loaded.status, loaded.pipeline_version, loaded.runner) == (
        "Succeeded",
        3,
        {"pid": 4242, "started": 123.5},
    )
    records.save_execution(loaded)
    assert path.read_text() == json.dumps(OLD_EXECUTION, indent=2, sort_keys=True) + "\n"


def test_a_new_record_has_the_old_shape_and_keeps_keys_it_does_not_know(tmp_path: Path) -> None:
    records = Records(tmp_path)
    fresh = {k: v for k, v in OLD_EXECUTION.items() if k != "runner"}
    fresh.update(status="Executing", ended_at=None, ran=False)
    records.save_execution(ExecutionRecord.from_json(fresh))
    path = tmp_path / "executions" / "abc123def456" / "execution.json"
    assert json.loads(path.read_text()) == fresh  # no "runner" until one claims it
    newer = {**fresh, "retry_of": "zzz"}  # a key a later version may add
    records.save_execution(ExecutionRecord.from_json(newer))
    assert json.loads(path.read_text()) == newer
