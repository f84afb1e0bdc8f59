"""What a run writes is its user's only (issue 21, 11): job folders (data, models, code,
hyperparameters), logs and extracted models cannot be read by another local user, like the
records, objects and reports."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.cli_runner import run_local_cli

pytestmark = pytest.mark.e2e


def readable_by_others(store: Path) -> list[str]:
    """Every file under ``store`` another user could open: each folder on the way lets
    others in (o+x) and the file lets them read (o+r)."""
    found = []
    for folder, dirs, files in os.walk(store):
        here = Path(folder)
        way = [here, *(p for p in here.parents if p.is_relative_to(store))]
        if not all(os.stat(p).st_mode & stat.S_IXOTH for p in way):
            dirs[:] = []
            continue
        for name in files:
            path = here / name
            if not path.is_symlink() and path.stat().st_mode & stat.S_IROTH:
                found.append(str(path.relative_to(store)))
    return sorted(found)


def test_a_run_and_its_endpoint_leave_nothing_other_users_can_read(tmp_path: Path) -> None:
    store = tmp_path / "store"
    done = run_local_cli(store, "--upsert", "--start", "--wait", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    try:
        execution = store / "executions" / summary["execution_id"]
        jobs = list((execution / "jobs").iterdir())
        assert jobs and {stat.S_IMODE(p.stat().st_mode) for p in jobs} == {0o700}
        logs = list((execution / "logs").iterdir())
        assert logs and {stat.S_IMODE(p.stat().st_mode) for p in logs} == {0o600}
        assert any((store / "endpoints").rglob("model.pth"))  # an extracted model is there
        assert readable_by_others(store) == []
    finally:
        run_local_cli(store, "--delete-endpoint", summary["endpoint"]["name"])
        run_local_cli(store, "--stop-host")
