"""The CLI's runs leave the report to a detached follower: the run does not wait for plots."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from pipeline.targets.local import LocalTarget
from tests.pipeline.local.local_defs import pipeline


def _statuses(path: Path) -> dict[str, str]:
    return dict(re.findall(r'data-step="([^"]+)" data-status="([^"]+)"', path.read_text()))


def _final_report(path: Path, within_s: float = 120.0) -> str:
    """The page once it shows the ended execution (the follower writes it after the run)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if path.is_file() and 'id="execution-status">Succeeded' in path.read_text():
            return path.read_text()
        time.sleep(0.1)
    raise AssertionError(f"no final report at {path}")


def test_the_run_returns_first_and_the_follower_writes_the_final_report(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    target = LocalTarget(tmp_path, endpoints=fake_endpoints, report_in_background=True)
    target.upsert_pipeline(pipeline(), None)
    summary = target.wait(target.start_execution("p", {}), lambda record: None)
    path = tmp_path / "executions" / summary.execution_id / "report.html"
    assert summary.status == "Succeeded"
    assert target.notes == [
        f"report {path} is being written in the background "
        "(run --report to write it now and wait for it)"
    ]
    html = _final_report(path)
    assert _statuses(path)["Deploy"] == "Succeeded"
    assert 'data-metric="train:loss"' in html
    log = tmp_path / "executions" / summary.execution_id / "report.log"
    assert log.read_text() == ""  # the follower had nothing to complain about
