"""listing.json: the kept summaries come back exactly as saved, or not at all."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.core.records import EndpointRef, ExecutionSummary
from pipeline.local import listing

FILES = (1, 2, 3, -1, -1, -1, 7, 8, 9)
PIPELINE_ARN = "arn:aws:sagemaker:us-east-1:000000000000:pipeline/moonpipe"


def _summary(execution_id: str = "abc123", **changes: Any) -> ExecutionSummary:
    fields: dict[str, Any] = {
        "pipeline_name": "moonpipe",
        "execution_arn": f"{PIPELINE_ARN}/execution/{execution_id}",
        "execution_id": execution_id,
        "status": "Succeeded",
        "failure_reason": None,
        "parameters": {"HiddenDim": 20, "Deploy": "true", "Threshold": 0.75},
        "metrics": {"accuracy": 0.9133333333333333, "precision": 1},
        "model_package_arn": "arn:aws:sagemaker:us-east-1:000000000000:model-package/g/3",
        "endpoint": EndpointRef("moonpipe-endpoint", "http://127.0.0.1:8080", "InService"),
        "started_at": datetime(2026, 12, 7, 19, 40, 1, 123456, tzinfo=UTC),
        "ended_at": datetime(2026, 12, 7, 19, 40, 3, tzinfo=UTC),
        "quality_report_uri": "s3://bucket/eval/evaluation.json",
        "report": "/store/executions/abc123/report.html",
        "display_name": "HiddenDim=20",
        "running_s": 1.875,
    }
    return ExecutionSummary(**{**fields, **changes})


def test_saved_summaries_come_back_equal(tmp_path: Path) -> None:
    path = tmp_path / "listing.json"
    entries = {
        "abc123": (FILES, _summary()),
        "def456": (FILES, _summary("def456", endpoint=None, ended_at=None, running_s=None)),
        "ghi789": (FILES, _summary("ghi789", status="Failed", failure_reason="a <b>", metrics={})),
    }
    listing.save(path, entries)
    assert listing.load(path) == entries


@pytest.mark.parametrize(
    "damage",
    [
        lambda kept: kept["entries"]["abc123"]["summary"].update(status=3),
        lambda kept: kept["entries"]["abc123"]["summary"].update(started_at="2026-12-07T19:40"),
        lambda kept: kept["entries"]["abc123"]["summary"].update(execution_id="other"),
        lambda kept: kept["entries"]["abc123"]["summary"].update(metrics={"accuracy": "1"}),
        lambda kept: kept["entries"]["abc123"]["summary"].update(endpoint={"url": "x"}),
        lambda kept: kept["entries"]["abc123"]["summary"].pop("parameters"),
        lambda kept: kept["entries"]["abc123"].update(files=["1", 2]),
        lambda kept: kept["entries"].update(abc123=[]),
    ],
    ids=["status", "naive-time", "other-id", "metric", "endpoint", "missing", "files", "shape"],
)
def test_a_damaged_entry_is_dropped_and_the_others_kept(tmp_path: Path, damage: Any) -> None:
    path = tmp_path / "listing.json"
    listing.save(path, {"abc123": (FILES, _summary()), "def456": (FILES, _summary("def456"))})
    kept = json.loads(path.read_text())
    damage(kept)
    path.write_text(json.dumps(kept))
    assert list(listing.load(path)) == ["def456"]


@pytest.mark.parametrize(
    "text",
    ["", "{", "[]", '{"version": 2, "entries": {}}', '{"version": 1, "entries": []}', "[" * 10**5],
    ids=["empty", "cut", "list", "version", "entries", "deep"],
)
def test_a_damaged_file_lists_nothing_kept(tmp_path: Path, text: str) -> None:
    path = tmp_path / "listing.json"
    path.write_text(text)
    assert listing.load(path) == {}


def test_no_file_or_no_way_to_write_one_is_no_error(tmp_path: Path) -> None:
    assert listing.load(tmp_path / "none.json") == {}
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    listing.save(blocked / "listing.json", {"abc123": (FILES, _summary())})  # no folder there
    assert blocked.read_text() == ""


def test_a_summary_json_cannot_hold_is_not_kept(tmp_path: Path) -> None:
    path = tmp_path / "listing.json"
    listing.save(path, {"abc123": (FILES, _summary(metrics={"accuracy": float("nan")}))})
    assert not path.exists()


@pytest.mark.parametrize("kind", ["fifo", "folder", "link"])
def test_what_is_not_a_regular_file_is_read_as_none_and_left_alone(
    tmp_path: Path, kind: str
) -> None:
    """A FIFO would block a plain open for ever (--ui and --list-executions would hang); a
    link could point anywhere. None is read; a save leaves a FIFO or folder as it is and
    replaces a link by a file of its own, never writing through it."""
    path = tmp_path / "listing.json"
    elsewhere = tmp_path / "elsewhere.json"
    listing.save(elsewhere, {"abc123": (FILES, _summary())})
    made = {"fifo": lambda: os.mkfifo(path), "folder": path.mkdir}
    made.get(kind, lambda: path.symlink_to(elsewhere))()
    assert listing.load(path) == {}
    listing.save(path, {"def456": (FILES, _summary("def456"))})
    assert {"fifo": path.is_fifo, "folder": path.is_dir, "link": path.is_file}[kind]()
    assert list(listing.load(elsewhere)) == ["abc123"]
    assert list(listing.load(path)) == (["def456"] if kind == "link" else [])
