"""The CLI answers an unchanged build from the checkout's build cache, without the SDK.

Each command is a fresh process on its own build cache folder (MOONPIPE_BUILD_CACHE); a
wrapper around run_pipeline.main says on stderr whether the SageMaker SDK (or boto3) was
imported. What each input change must cost is tested on the cache itself
(tests/pipeline/assembly/test_build_cache.py); here: the wiring, byte for byte.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.cli_runner import REPO, local_cli_command, local_cli_env

pytestmark = pytest.mark.e2e

SAYS_WHETHER_THE_SDK_LOADED = """
import atexit, sys
atexit.register(lambda: print(
    "SDK: " + ("imported" if {"sagemaker", "boto3"} & set(sys.modules) else "not imported"),
    file=sys.stderr))
import run_pipeline
sys.exit(run_pipeline.main(sys.argv[1:]))
"""


def cli(store: Path, cache: Path, *flags: str) -> tuple[subprocess.CompletedProcess[str], bool]:
    """(the finished command, whether it imported the SDK)."""
    env = {**local_cli_env(), "MOONPIPE_BUILD_CACHE": str(cache)}
    done = subprocess.run(
        local_cli_command(store, *flags, code=SAYS_WHETHER_THE_SDK_LOADED),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done, "SDK: imported" in done.stderr.splitlines()


def test_an_unchanged_definition_is_printed_without_the_sdk(tmp_path: Path) -> None:
    first, built = cli(tmp_path / "store", tmp_path / "cache", "--definition", "--json")
    again, rebuilt = cli(tmp_path / "store", tmp_path / "cache", "--definition", "--json")
    assert (built, rebuilt) == (True, False)
    assert again.stdout == first.stdout
    assert json.loads(again.stdout)["Steps"]


def test_a_changed_config_value_builds_again(tmp_path: Path) -> None:
    cli(tmp_path / "store", tmp_path / "cache", "--definition")
    flags = ("--definition", "--bucket", "other-bucket")
    other, built = cli(tmp_path / "store", tmp_path / "cache", *flags)
    assert built
    assert "s3://other-bucket/" in other.stdout


def test_an_unchanged_upsert_skips_the_sdk_and_stores_nothing(tmp_path: Path) -> None:
    store = tmp_path / "store"
    cli(store, tmp_path / "cache", "--upsert")
    versions = sorted(os.listdir(store / "pipelines" / "moonpipe" / "versions"))
    again, rebuilt = cli(store, tmp_path / "cache", "--upsert", "--json")
    assert not rebuilt
    assert json.loads(again.stdout)["changed"] is False
    assert sorted(os.listdir(store / "pipelines" / "moonpipe" / "versions")) == versions


def test_a_new_store_upserts_the_same_definition_from_the_cache(tmp_path: Path) -> None:
    """The cache is the checkout's, not a store's: a second store gets the same bytes."""
    cli(tmp_path / "one", tmp_path / "cache", "--upsert")
    _, rebuilt = cli(tmp_path / "two", tmp_path / "cache", "--upsert")
    assert not rebuilt
    stored = [
        json.loads((tmp_path / s / "pipelines/moonpipe/versions/1.json").read_text())
        for s in ("one", "two")
    ]
    assert stored[0]["PipelineDefinition"] == stored[1]["PipelineDefinition"]
    objects = [
        sorted(p.relative_to(tmp_path / s).as_posix() for p in (tmp_path / s / "s3").rglob("*"))
        for s in ("one", "two")
    ]
    assert objects[0] == objects[1]
