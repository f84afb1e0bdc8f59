"""Parsed YAML kept by content: the same answers as PyYAML, without PyYAML the second time."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.core import yaml_cache
from tests.cli_runner import REPO

TEXT = "pipeline:\n  name: moonpipe\ntraining:\n  epochs: 100\n  lr: 0.05\n  flags: [true, null]\n"


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text PyYAML is asked to parse."""
    seen: list[str] = []
    real = yaml.safe_load

    def counting(text: Any) -> Any:
        seen.append(text)
        return real(text)

    monkeypatch.setattr(yaml, "safe_load", counting)
    return seen


def test_the_second_load_of_a_content_is_read_from_the_cache(
    tmp_path: Path, parses: list[str]
) -> None:
    first = yaml_cache.load(TEXT, tmp_path)
    again = yaml_cache.load(TEXT, tmp_path)
    assert first == again == yaml.load(TEXT, Loader=yaml.SafeLoader)
    assert type(again["training"]["epochs"]) is int and type(again["training"]["lr"]) is float
    assert parses == [TEXT]


def test_a_changed_content_is_parsed_anew(tmp_path: Path, parses: list[str]) -> None:
    yaml_cache.load(TEXT, tmp_path)
    changed = TEXT.replace("100", "7")
    assert yaml_cache.load(changed, tmp_path)["training"]["epochs"] == 7
    assert parses == [TEXT, changed]


@pytest.mark.parametrize(
    "text",
    ["when: 2026-12-08\n", "1.5: one\n", "1: one\n", "x: .nan\n", "s: !!set {a: null}\n"],
)
def test_content_json_would_change_is_never_kept(
    tmp_path: Path, parses: list[str], text: str
) -> None:
    expected = yaml.load(text, Loader=yaml.SafeLoader)
    for _ in range(2):
        got = yaml_cache.load(text, tmp_path)
        assert type(got) is type(expected)
        assert repr(got) == repr(expected)  # nan != nan: compare as written
    assert len(parses) == 2
    assert not list(tmp_path.glob("yaml/*.json"))
    assert isinstance(yaml_cache.load("when: 2026-12-08\n", tmp_path)["when"], datetime.date)


def test_a_damaged_or_foreign_entry_is_a_miss_and_is_replaced(
    tmp_path: Path, parses: list[str]
) -> None:
    yaml_cache.load(TEXT, tmp_path)
    [entry] = tmp_path.glob("yaml/*.json")
    entry.write_text("{not json")
    assert yaml_cache.load(TEXT, tmp_path)["pipeline"]["name"] == "moonpipe"
    entry.write_text(json.dumps({"key": "another content's", "value": {"pipeline": "x"}}))
    assert yaml_cache.load(TEXT, tmp_path)["pipeline"]["name"] == "moonpipe"
    assert len(parses) == 3
    assert json.loads(entry.read_text())["value"]["pipeline"] == {"name": "moonpipe"}


def test_a_folder_that_cannot_be_written_costs_only_the_parse(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")  # the cache folder would have to be inside a file
    assert yaml_cache.load(TEXT, blocker)["training"]["epochs"] == 100


def test_a_command_reading_an_unchanged_config_never_imports_yaml(tmp_path: Path) -> None:
    """What the cache is for: the CLI's config load without PyYAML (~12 ms) once it has
    read this content before."""
    code = (
        "import sys\n"
        "from pipeline.config import DEFAULT_CONFIG_PATH, load_config\n"
        "config = load_config(DEFAULT_CONFIG_PATH)\n"
        "print(config.pipeline.name, 'yaml' in sys.modules)\n"
    )
    env = {**os.environ, "MOONPIPE_BUILD_CACHE": str(tmp_path)}
    answers = [
        subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
        )
        for _ in range(2)
    ]
    assert [a.returncode for a in answers] == [0, 0], answers[0].stderr + answers[1].stderr
    assert [a.stdout.split() for a in answers] == [["moonpipe", "True"], ["moonpipe", "False"]]


def test_only_the_newest_entries_are_kept(tmp_path: Path) -> None:
    for n in range(yaml_cache.MAX_ENTRIES + 5):
        yaml_cache.load(f"n: {n}\n", tmp_path)
    assert len(list(tmp_path.glob("yaml/*.json"))) == yaml_cache.MAX_ENTRIES
    newest = yaml_cache.MAX_ENTRIES + 4
    assert yaml_cache.load(f"n: {newest}\n", tmp_path) == {"n": newest}
