"""Fixtures of the report tests: the fake endpoint helper, and one real local run.

``real_run`` is the product as a person meets it: run_pipeline.py --upsert --start --wait on
the real definition in a fresh process, once per test session; its endpoint is deleted at
the end.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cli_runner import run_local_cli as cli


@pytest.fixture(scope="session")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The --json summary of one real local run (its store under ``summary["store"]``)."""
    store = tmp_path_factory.mktemp("report-run") / "store"
    done = cli(store, "--upsert", "--start", "--wait", "--json", timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    summary["store"] = str(store)
    written = cli(store, "--report", "--json")  # the run's own report is written detached
    assert written.returncode == 0, written.stderr[-3000:]
    summary["report"] = json.loads(written.stdout)["report"]
    try:
        yield summary
    finally:
        cli(store, "--delete-endpoint", summary["endpoint"]["name"])
