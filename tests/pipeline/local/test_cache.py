"""CacheConfig as the guide's "Default cache key attributes by pipeline step type" says: only
those attributes, by resolved value; the newest successful run within ExpireAfter; the reason
for a hit or a miss names the run, or the attributes that changed."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from pipeline.local.cache import (
    KEY_ATTRIBUTES,
    CacheEntry,
    cache_key,
    entry_name,
    is_enabled,
    lookup,
    remember,
)
from pipeline.local.graph import StepSpec
from pipeline.local.policies import parse_cache_config

PROCESSING: dict[str, Any] = {
    "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1}},
    "AppSpecification": {"ImageUri": "img", "ContainerArguments": ["--rows", "3"]},
    "Environment": {"A": "1"},
    "ProcessingInputs": [{"InputName": "code", "S3Input": {"S3Uri": "s3://b/code/h1/p.py"}}],
    "ProcessingOutputConfig": {"Outputs": [{"S3Output": {"S3Uri": "s3://b/e1/out"}}]},
    "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    "RoleArn": "arn:aws:iam::123456789012:role/r",
}
TRAINING: dict[str, Any] = {
    "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
    "HyperParameters": {"epochs": "10"},
    "InputDataConfig": [{"ChannelName": "train"}],
    "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
    "OutputDataConfig": {"S3OutputPath": "s3://b/e1/models"},
}
ON = {"Enabled": True, "ExpireAfter": "PT1H"}
PREP = StepSpec("Prep", "Processing", PROCESSING, cache_config=ON)
TRAIN = StepSpec("Train", "Training", TRAINING, cache_config=ON)
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _changed(args: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(args)
    *parents, last = path.split(".")
    where = changed
    for part in parents:
        where = where[part]
    where[last] = value
    return changed


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("ProcessingResources.ClusterConfig.InstanceType", "ml.c5.large"),  # the case
        ("ProcessingOutputConfig.Outputs", [{"S3Output": {"S3Uri": "s3://b/e2/out"}}]),
        ("StoppingCondition.MaxRuntimeInSeconds", 3600),
        ("RoleArn", "arn:aws:iam::123456789012:role/other"),
    ],
)
def test_a_processing_change_outside_the_key_attributes_keeps_the_key(
    path: str, value: Any
) -> None:
    assert cache_key(PREP, _changed(PROCESSING, path, value)) == cache_key(PREP, PROCESSING)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("AppSpecification.ContainerArguments", ["--rows", "4"]),
        ("Environment.A", "2"),
        ("ProcessingInputs", [{"InputName": "code", "S3Input": {"S3Uri": "s3://b/code/h2/p.py"}}]),
    ],
)
def test_a_processing_key_attribute_change_changes_the_key(path: str, value: Any) -> None:
    assert cache_key(PREP, _changed(PROCESSING, path, value)) != cache_key(PREP, PROCESSING)


def test_training_keys_hyperparameters_not_instances_or_output_paths() -> None:
    key = cache_key(TRAIN, TRAINING)
    assert cache_key(TRAIN, _changed(TRAINING, "ResourceConfig.InstanceType", "ml.c5.large")) == key
    assert cache_key(TRAIN, _changed(TRAINING, "OutputDataConfig.S3OutputPath", "s3://b/e2")) == key
    assert cache_key(TRAIN, _changed(TRAINING, "HyperParameters.epochs", "20")) != key
    assert set(key.attributes) == set(KEY_ATTRIBUTES["Training"])


def test_the_same_arguments_of_another_step_are_another_entry() -> None:
    other = StepSpec("Other", "Processing", PROCESSING, cache_config=ON)
    assert entry_name(cache_key(other, PROCESSING)) != entry_name(cache_key(PREP, PROCESSING))


def test_only_the_documented_step_types_are_cached() -> None:
    assert is_enabled(PREP) and is_enabled(TRAIN)
    for kind in ("Model", "RegisterModel", "EndpointConfig", "Endpoint", "Condition", "Fail"):
        assert not is_enabled(StepSpec("S", kind, {}, cache_config=ON))
    assert not is_enabled(StepSpec("P", "Processing", {}, cache_config={"Enabled": False}))


def _entry_path(tmp_path: Path, args: dict[str, Any]) -> Path:
    return tmp_path / f"{entry_name(cache_key(PREP, args))}.json"


def test_a_hit_within_expire_after_then_expired(tmp_path: Path) -> None:
    key, path, policy = cache_key(PREP, PROCESSING), _entry_path(tmp_path, PROCESSING), PREP.cache
    first = lookup(path, key, policy, T0)
    assert (first.entry, first.reason) == (None, "no earlier successful run of this step")
    remember(path, CacheEntry("e1", T0, {"Out": "x"}, key.attributes))
    hit = lookup(path, key, policy, T0 + timedelta(minutes=59))
    assert hit.entry is not None and (hit.entry.execution_id, hit.entry.properties) == (
        "e1",
        {"Out": "x"},
    )
    assert hit.reason == "key attributes as in execution e1"
    late = lookup(path, key, policy, T0 + timedelta(minutes=61))
    assert late.entry is None
    assert (
        late.reason == "the run with this key (execution e1) ended more than ExpireAfter PT1H ago"
    )
    never = parse_cache_config({"Enabled": True})
    assert lookup(path, key, never, T0 + timedelta(days=999)).entry is not None


def test_a_miss_names_the_key_attributes_that_changed(tmp_path: Path) -> None:
    old = cache_key(PREP, PROCESSING)
    remember(_entry_path(tmp_path, PROCESSING), CacheEntry("e1", T0, {}, old.attributes))
    new_args = _changed(PROCESSING, "Environment.A", "2")
    new_args = _changed(new_args, "AppSpecification.ImageUri", "img2")
    found = lookup(_entry_path(tmp_path, new_args), cache_key(PREP, new_args), PREP.cache, T0)
    assert (found.entry, found.reason) == (
        None,
        "AppSpecification, Environment changed since execution e1",
    )


def test_a_miss_reads_only_the_newest_entries_of_its_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step run with fifty sets of arguments has fifty entries; explaining a miss reads
    the few written last, not all of them, and still names the newest run."""
    from pipeline.local import cache

    for n in range(12):
        args = _changed(PROCESSING, "Environment.A", str(n))
        key = cache_key(PREP, args)
        moment = T0 + timedelta(minutes=n)
        remember(_entry_path(tmp_path, args), CacheEntry(f"e{n}", moment, {}, key.attributes))
    reads: list[Path] = []
    real_read = cache._read
    monkeypatch.setattr(cache, "_read", lambda path: reads.append(path) or real_read(path))
    new_args = _changed(PROCESSING, "Environment.A", "new")
    found = lookup(_entry_path(tmp_path, new_args), cache_key(PREP, new_args), PREP.cache, T0)
    assert found.reason == "Environment changed since execution e11"
    assert len(reads) <= 1 + cache._NEWEST_READ  # its own (absent) entry, then the newest few
