"""CacheConfig: the key ignores Execution.* but not parameters; entries expire."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from pipeline.local.cache import CacheEntry, cache_key, lookup, remember
from pipeline.local.expressions import Scope
from pipeline.local.graph import StepSpec

ARGS = {
    "Out": {
        "Std:Join": {
            "On": "/",
            "Values": [
                "s3://b",
                {"Get": "Execution.PipelineExecutionId"},
                {"Get": "Parameters.Rows"},
            ],
        }
    }
}
SPEC = StepSpec("Prep", "Processing", ARGS, cache_config={"Enabled": True, "ExpireAfter": "PT1H"})


def _scope(execution_id: str, rows: int) -> Scope:
    return Scope(parameters={"Rows": rows}, execution={"PipelineExecutionId": execution_id})


def test_key_ignores_the_execution_id_but_not_parameters() -> None:
    assert cache_key(SPEC, _scope("e1", 3)) == cache_key(SPEC, _scope("e2", 3))
    assert cache_key(SPEC, _scope("e1", 3)) != cache_key(SPEC, _scope("e1", 4))
    renamed = StepSpec("Other", "Processing", ARGS)
    assert cache_key(renamed, _scope("e1", 3)) != cache_key(SPEC, _scope("e1", 3))


def test_hit_then_expiry(tmp_path: Path) -> None:
    path = tmp_path / "entry.json"
    ended = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert lookup(path, "PT1H", ended) is None
    remember(path, CacheEntry("e1", ended, {"Out": "x"}))
    hit = lookup(path, "PT1H", ended + timedelta(minutes=59))
    assert hit is not None and (hit.execution_id, hit.properties) == ("e1", {"Out": "x"})
    assert lookup(path, "PT1H", ended + timedelta(minutes=61)) is None
    assert lookup(path, None, ended + timedelta(days=999)) is not None
