"""One built definition shared by every step test (building costs ~1 s after the import)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.assembly.builder import build_pipeline
from pipeline.config import DEFAULT_CONFIG_PATH, PipelineConfig, load_config
from pipeline.core.records import PipelineDefinition

STUB_SCRIPTS = ("preprocess.py", "train.py", "evaluate.py", "model.py", "inference.py")


def write_stub_code(directory: Path) -> Path:
    """Stand-in entrypoints: the build only uploads them, so their content is arbitrary."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in STUB_SCRIPTS:
        (directory / name).write_text(f"print({name!r})\n")
    return directory


def steps_by_name(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every step, including those nested in condition branches, by name."""
    found: dict[str, dict[str, Any]] = {}

    def walk(steps: list[dict[str, Any]]) -> None:
        for step in steps:
            found[step["Name"]] = step
            args = step.get("Arguments", {})
            walk(args.get("IfSteps", []) if step["Type"] == "Condition" else [])
            walk(args.get("ElseSteps", []) if step["Type"] == "Condition" else [])

    walk(definition["Steps"])
    return found


@pytest.fixture(scope="session")
def moon_config() -> PipelineConfig:
    return load_config(DEFAULT_CONFIG_PATH, environ={})


@pytest.fixture(scope="session")
def built(
    tmp_path_factory: pytest.TempPathFactory, moon_config: PipelineConfig
) -> Iterator[PipelineDefinition]:
    code = write_stub_code(tmp_path_factory.mktemp("entrypoints"))
    yield build_pipeline(moon_config, code)


@pytest.fixture(scope="session")
def definition(built: PipelineDefinition) -> dict[str, Any]:
    return json.loads(built.definition)


@pytest.fixture(scope="session")
def steps(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return steps_by_name(definition)
