"""A refused --start creates nothing and starts nothing (issue 20).

The job host may begin its imports while the command checks its request (it overlaps the
build and the checks), but until an execution runs it is only a child of the command: it
creates no folder, and leaves when the command ends. So after an exit 2 there is no store
folder, no warm host, nothing naming the store.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_runner import REPO, local_cli_env, run_local_cli, upserted_store
from tests.conftest import no_process_names

pytestmark = pytest.mark.e2e


def listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_start_in_an_empty_folder_leaves_no_store_and_no_host(tmp_path: Path) -> None:
    """A project of its own (the shipped config, copied): from outside a project the CLI
    uses the project's store, and this checkout's may hold a pipeline (after `make run`)."""
    project = tmp_path / "project"
    (project / "config").mkdir(parents=True)
    config = project / "config" / "pipeline.yaml"
    config.write_bytes((REPO / "config" / "pipeline.yaml").read_bytes())
    done = subprocess.run(
        [sys.executable, str(REPO / "run_pipeline.py"), "--config", str(config), "--start"],
        cwd=project,
        env=local_cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "run with --upsert first" in done.stderr
    assert no_process_names(tmp_path)
    assert listing(project) == ["config", "config/pipeline.yaml"]


def test_a_refused_upsert_and_start_creates_no_store(tmp_path: Path) -> None:
    store = tmp_path / "store"
    done = run_local_cli(store, "--upsert", "--start", "--param", "NoSuchParameter=1")
    assert done.returncode == 2, done.stderr
    assert no_process_names(tmp_path)
    assert not store.exists()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with upserted_store(tmp_path_factory.mktemp("refused") / "store") as root:
        yield root


def test_a_refused_start_on_a_stored_pipeline_changes_nothing(store: Path) -> None:
    before = listing(store)
    done = run_local_cli(store, "--start", "--param", "HiddenDim=wide")
    assert done.returncode == 2, done.stderr
    assert no_process_names(store)
    assert listing(store) == before
