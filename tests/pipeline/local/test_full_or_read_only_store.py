"""A full disk and a read-only store (issue 21, finding 6): one line naming the cause, and
the cause recorded as the execution's reason, never an OSError traceback nor "the process
... ended before it finished (killed?)". The store lives on a small tmpfs mounted for the
test, which needs root (the suite runs as root in CI)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli_runner import run_local_cli
from tests.conftest import end_processes_naming
from tests.pipeline.local.engine import local_runner
from tests.pipeline.local.sdk_defs import integrity_pipeline

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root (CI has it)"),
]


@contextlib.contextmanager
def tmpfs(folder: Path, size: str = "16m") -> Iterator[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        end_processes_naming(folder)  # the warm host and the report follower live there
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store that ran the SDK-built pipeline once (its gate cached), to copy."""
    store = tmp_path_factory.mktemp("full") / "store"
    runner = local_runner(store)
    runner.pipelines.upsert(integrity_pipeline(), None)
    assert runner.run(runner.start("moonpipe", {}), lambda record: None).status == "Succeeded"
    return store


def copied(template: Path, mount: Path) -> Path:
    """The template store, on ``mount`` (paths in its records still name the template's
    folder: nothing these tests read)."""
    return Path(shutil.copytree(template, mount / "store"))


def fill_leaving(mount: Path, free_kb: int) -> None:
    found = os.statvfs(mount)
    with open(mount / "filler", "wb") as out:
        out.write(bytes(max(0, found.f_bavail * found.f_frsize - free_kb * 1024)))


def newest(store: Path) -> dict[str, Any]:
    listed = run_local_cli(store, "--list-executions", "--json")
    assert listed.returncode == 0, listed.stderr
    return dict(json.loads(listed.stdout)[0])


def last_error(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    return stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("free_kb", [280, 300, 360, 400])
def test_a_run_that_fills_the_disk_records_why(
    template: Path, tmp_path: Path, free_kb: int
) -> None:
    with tmpfs(tmp_path / "mnt") as mount:
        store = copied(template, mount)
        fill_leaving(mount, free_kb)
        run = run_local_cli(store, "--start", "--param", "Rows=2000")
        assert run.returncode == 1
        summary = newest(store)
        assert summary["status"] == "Failed", summary
        assert "the disk is full; free some space first" in summary["failure_reason"], summary
        assert "killed?" not in summary["failure_reason"]
        if run.stderr.strip():
            assert last_error(run.stderr).startswith("error: cannot write "), run.stderr
            assert last_error(run.stderr).endswith("the disk is full; free some space first")


def test_a_run_without_room_to_record_its_end_does_not_start(
    template: Path, tmp_path: Path
) -> None:
    with tmpfs(tmp_path / "mnt") as mount:
        store = copied(template, mount)
        fill_leaving(mount, 100)
        run = run_local_cli(store, "--start", "--param", "Rows=2000")
        assert run.returncode == 1
        assert last_error(run.stderr).startswith("error: cannot start execution ")
        assert last_error(run.stderr).endswith(
            ": the disk is full; free some space first (a run keeps 256 KB free for "
            "recording how it ends)"
        )
        assert newest(store)["status"] == "Succeeded"  # the first run; nothing new recorded


def test_a_read_only_store_is_read_and_refuses_writes_in_one_line(
    template: Path, tmp_path: Path
) -> None:
    with tmpfs(tmp_path / "mnt") as mount:
        store = copied(template, mount)
        execution_id = newest(store)["execution_id"]
        end_processes_naming(mount)
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        assert run_local_cli(store, "--list-executions").returncode == 0
        described = run_local_cli(store, "--describe-execution", execution_id)
        assert described.returncode == 0, described.stderr
        for flags in (["--start"], ["--report", execution_id]):
            refused = run_local_cli(store, *flags)
            assert refused.returncode == 1, refused.stderr
            line = last_error(refused.stderr)
            assert line.startswith(f"error: cannot write {store}/"), line
            assert line.endswith(
                ": the file system is read-only; use a writable store (local.store_root in "
                "the config)"
            ), line
