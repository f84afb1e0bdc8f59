"""The build cache answers only when every input of the build is unchanged.

Each input a build reads is changed in turn (a config value, a project module it imported, an
entrypoint's content, a new entrypoint, a distribution's version, the Python version, a
damaged entry) and each must cost a real build; the real builder's cached answer is
byte-identical to a fresh build and is read without importing the SDK.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.assembly import build_cache
from pipeline.core.records import PipelineDefinition

REPO = Path(__file__).resolve().parents[3]


@dataclasses.dataclass(frozen=True)
class Local:
    store_root: str = ".moonpipe"


@dataclasses.dataclass(frozen=True)
class Training:
    hidden_dim: int = 20


@dataclasses.dataclass(frozen=True)
class Config:
    training: Training = Training()
    local: Local = Local()


class CountingBuild:
    """A build that imports the project module ``fakebuild_steps`` (from the copy's root)
    and reports what it read, like the real builder imports steps/."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, config: Config) -> PipelineDefinition:
        self.calls += 1
        sys.modules.pop("fakebuild_steps", None)
        module = importlib.import_module("fakebuild_steps")
        definition = json.dumps({"hidden": config.training.hidden_dim, "code": module.CODE})
        return PipelineDefinition("p", "d", definition, {"s3://b/k/sourcedir.tar.gz": b"\x00\x01"})


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Path]:
    """A repository copy: one project module the build imports, and two entrypoints."""
    root = tmp_path / "repo"
    (root / "entrypoints").mkdir(parents=True)
    (root / "entrypoints" / "train.py").write_text("print('train')\n")
    (root / "entrypoints" / "evaluate.py").write_text("print('evaluate')\n")
    (root / "fakebuild_steps.py").write_text("CODE = 1\n")
    sys.path.insert(0, str(root))
    try:
        yield root
    finally:
        sys.path.remove(str(root))
        sys.modules.pop("fakebuild_steps", None)


def build(repo: Path, cache: Path, builder: CountingBuild, config: Config = Config()) -> bool:
    _, cached = build_cache.build_through(cache, config, builder, root=repo)
    return cached


def test_an_unchanged_build_is_answered_from_the_cache(repo: Path, tmp_path: Path) -> None:
    builder = CountingBuild()
    first, cached = build_cache.build_through(tmp_path / "c", Config(), builder, root=repo)
    again, hit = build_cache.build_through(tmp_path / "c", Config(), builder, root=repo)
    assert (cached, hit, builder.calls) == (False, True, 1)
    assert again == first


def test_a_config_value_the_build_sees_rebuilds_but_the_engine_settings_do_not(
    repo: Path, tmp_path: Path
) -> None:
    builder = CountingBuild()
    build(repo, tmp_path / "c", builder)
    assert not build(repo, tmp_path / "c", builder, Config(training=Training(hidden_dim=40)))
    assert build(repo, tmp_path / "c", builder, Config(local=Local(store_root="/elsewhere")))
    assert builder.calls == 2


@dataclasses.dataclass(frozen=True)
class ModuleConfig(Config):
    module_name: str | None = "modelbuild.tiny.pipeline"
    module_kwargs: str = "{}"


def test_another_module_is_never_cached_its_sources_are_outside_the_repository(
    repo: Path, tmp_path: Path
) -> None:
    builder = CountingBuild()
    assert not build(repo, tmp_path / "c", builder, ModuleConfig())
    assert not build(repo, tmp_path / "c", builder, ModuleConfig())
    assert builder.calls == 2 and not (tmp_path / "c").exists()
    own = ModuleConfig(module_name="pipeline.assembly.moonpipe")
    build(repo, tmp_path / "c", builder, own)
    assert build(repo, tmp_path / "c", builder, own)


def test_a_changed_project_module_rebuilds(repo: Path, tmp_path: Path) -> None:
    builder = CountingBuild()
    build(repo, tmp_path / "c", builder)
    (repo / "fakebuild_steps.py").write_text("CODE = 2\n")
    assert not build(repo, tmp_path / "c", builder)
    assert build(repo, tmp_path / "c", builder)
    assert builder.calls == 2


@pytest.mark.parametrize("change", ["edit", "add", "remove"])
def test_any_change_to_the_entrypoints_rebuilds(repo: Path, tmp_path: Path, change: str) -> None:
    builder = CountingBuild()
    build(repo, tmp_path / "c", builder)
    script = repo / "entrypoints" / ("helper.py" if change == "add" else "train.py")
    if change == "remove":
        script.unlink()
    else:
        script.write_text("print('changed')\n")
    assert not build(repo, tmp_path / "c", builder)
    assert builder.calls == 2


def test_another_version_of_a_distribution_rebuilds(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builder = CountingBuild()
    build(repo, tmp_path / "c", builder)
    real = build_cache._version
    monkeypatch.setattr(
        build_cache, "_version", lambda name: "999.0" if name == "sagemaker" else real(name)
    )
    assert not build(repo, tmp_path / "c", builder)
    assert builder.calls == 2


def test_another_python_rebuilds(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builder = CountingBuild()
    build(repo, tmp_path / "c", builder)
    monkeypatch.setattr(build_cache, "_python", lambda: "3.99.0")
    assert not build(repo, tmp_path / "c", builder)


@pytest.mark.parametrize("damage", ["", "{", "[]", '{"format": 1}', '{"format": 1, "files": 5}'])
def test_a_damaged_entry_is_a_miss_and_is_replaced(repo: Path, tmp_path: Path, damage: str) -> None:
    builder = CountingBuild()
    build(repo, tmp_path / "c", builder)
    (entry,) = (tmp_path / "c").glob("*.json")
    entry.write_text(damage)
    assert not build(repo, tmp_path / "c", builder)
    assert build(repo, tmp_path / "c", builder)
    assert builder.calls == 2


def test_an_unwritable_cache_only_costs_speed(repo: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    builder = CountingBuild()
    assert not build(repo, blocked / "c", builder)
    assert not build(repo, blocked / "c", builder)
    assert builder.calls == 2


def test_the_real_build_is_answered_byte_for_byte_without_importing_the_sdk(
    tmp_path: Path,
) -> None:
    """Build the real definition in a fresh process, then look it up in another one."""
    cache = tmp_path / "cache"
    program = f"""
import json, sys
from pathlib import Path
from pipeline.assembly import build_cache
from pipeline.config import load_config, DEFAULT_CONFIG_PATH
cfg = load_config(DEFAULT_CONFIG_PATH, {{}}, {{}})
cache = Path({str(cache)!r})
if sys.argv[1] == "build":
    from pipeline.assembly.builder import build_pipeline
    built, hit = build_cache.build_through(cache, cfg, build_pipeline)
else:
    built = build_cache.lookup(cache, cfg)
    hit = built is not None
print(json.dumps({{
    "hit": hit,
    "definition": built.definition,
    "artifacts": {{u: b.hex() for u, b in built.artifacts.items()}},
    "sdk_imported": "sagemaker" in sys.modules or "boto3" in sys.modules,
}}))
"""

    def run(mode: str) -> dict:
        done = subprocess.run(
            [sys.executable, "-c", program, mode],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
        return json.loads(done.stdout.splitlines()[-1])

    built, looked_up = run("build"), run("lookup")
    assert (built["hit"], looked_up["hit"]) == (False, True)
    assert looked_up["definition"] == built["definition"]
    assert looked_up["artifacts"] == built["artifacts"]
    assert not looked_up["sdk_imported"]
    (entry,) = cache.glob("*.json")
    recorded = json.loads(entry.read_text())
    for rel in ("steps/training.py", "pipeline/assembly/builder.py", "entrypoints/train.py"):
        assert rel in recorded["files"], rel
    assert {"sagemaker", "boto3", "botocore"} <= set(recorded["distributions"])
