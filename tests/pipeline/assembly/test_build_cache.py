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
import time
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
    source: Path = Path("config/pipeline.yaml")


class CountingBuild:
    """A build that imports the project module ``fakebuild_steps`` (from the copy's root)
    and reports what it read, like the real builder imports steps/; ``also`` names more
    modules it imports (a user's pipeline module, say)."""

    def __init__(self, *also: str) -> None:
        self.calls = 0
        self.also = also

    def __call__(self, config: Config) -> PipelineDefinition:
        self.calls += 1
        codes = []
        for name in ("fakebuild_steps", *self.also):
            sys.modules.pop(name, None)
            codes.append(importlib.import_module(name).CODE)
        definition = json.dumps({"hidden": config.training.hidden_dim, "code": codes})
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


def test_a_module_from_outside_the_checkout_rebuilds(repo: Path, tmp_path: Path) -> None:
    """A module the build imports from elsewhere (not an installed distribution) is read by
    content too: a pipeline module of the user's, on the path from another folder."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "user_pipeline_mod.py").write_text("CODE = 'a'\n")
    sys.path.insert(0, str(elsewhere))
    try:
        builder = CountingBuild("user_pipeline_mod")
        build(repo, tmp_path / "c", builder)
        assert build(repo, tmp_path / "c", builder)
        (elsewhere / "user_pipeline_mod.py").write_text("CODE = 'b'\n")
        assert not build(repo, tmp_path / "c", builder)
        assert builder.calls == 2
    finally:
        sys.path.remove(str(elsewhere))
        sys.modules.pop("user_pipeline_mod", None)


def test_a_distribution_loaded_before_the_build_is_an_input_too(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """yaml was imported (by the config loader) before the build began, so the build did not
    import it; the SDK may still use it, so its version is part of the entry."""
    import yaml  # noqa: F401 - loaded before the build, as the CLI has it

    builder = CountingBuild()
    build(repo, tmp_path / "c", builder)
    real = build_cache._version
    monkeypatch.setattr(
        build_cache, "_version", lambda name: "999.0" if name == "PyYAML" else real(name)
    )
    assert not build(repo, tmp_path / "c", builder)


def test_the_config_file_path_is_not_an_input(repo: Path, tmp_path: Path) -> None:
    """The same values read from another file build the same definition."""
    builder = CountingBuild()
    build(repo, tmp_path / "c", builder)
    assert build(repo, tmp_path / "c", builder, Config(source=tmp_path / "other.yaml"))
    assert builder.calls == 1


def test_the_entries_used_last_are_kept(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build_cache, "MAX_ENTRIES", 2)
    builder = CountingBuild()
    configs = [Config(training=Training(hidden_dim=n)) for n in (1, 2, 3)]
    build(repo, tmp_path / "c", builder, configs[0])
    build(repo, tmp_path / "c", builder, configs[1])
    time.sleep(0.01)  # mtimes apart: the first entry is now the one used last
    assert build(repo, tmp_path / "c", builder, configs[0])
    time.sleep(0.01)
    build(repo, tmp_path / "c", builder, configs[2])
    assert len(list((tmp_path / "c").glob("*.json"))) == 2
    assert build(repo, tmp_path / "c", builder, configs[0])
    assert not build(repo, tmp_path / "c", builder, configs[1])


def test_the_cache_folder_is_the_checkout_s_unless_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(build_cache.CACHE_ENV, raising=False)
    assert build_cache.default_dir() == REPO / ".moonpipe-build"
    monkeypatch.setenv(build_cache.CACHE_ENV, "/somewhere/else")
    assert build_cache.default_dir() == Path("/somewhere/else")


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
