"""Atomic writes: a reader sees the old file or the whole new one, and no temp file lingers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.core.errors import StoreCorruptError
from pipeline.local.store import atomic


def test_write_json_round_trips_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "record.json"
    atomic.write_json(path, {"b": 1, "a": [1.5, None]})
    atomic.write_json(path, {"b": 2})
    assert atomic.read_json(path) == {"b": 2}
    assert sorted(p.name for p in path.parent.iterdir()) == ["record.json"]


def test_failed_replace_keeps_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "artifact.bin"
    atomic.write_bytes(path, b"old")

    def crash(src: str, dst: str) -> None:
        raise OSError("disk went away")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk went away"):
        atomic.write_bytes(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["artifact.bin"]


def test_create_json_never_replaces_an_existing_record(tmp_path: Path) -> None:
    path = tmp_path / "version-1.json"
    atomic.create_json(path, {"v": 1})
    with pytest.raises(FileExistsError):
        atomic.create_json(path, {"v": 2})
    assert atomic.read_json(path) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["version-1.json"]


def test_read_json_names_a_damaged_record(tmp_path: Path) -> None:
    path = tmp_path / "execution.json"
    path.write_text('{"status": "Succ')
    with pytest.raises(StoreCorruptError) as err:
        atomic.read_json(path)
    assert str(err.value) == (
        f"{path}: damaged record (Unterminated string starting at: line 1 column 12 (char 11)); "
        "restore the file from a backup or move it away"
    )
    assert err.value.exit_code == 1


def test_scratch_writes_skip_the_fsync_and_stay_atomic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    monkeypatch.setattr(atomic.os, "fsync", synced.append)
    path = tmp_path / "job" / "config.json"
    atomic.write_json(path, {"a": 1}, durable=False)
    assert synced == [] and atomic.read_json(path) == {"a": 1}
    atomic.write_json(path, {"a": 2})
    assert len(synced) == 1 and atomic.read_json(path) == {"a": 2}
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.json"]
