"""The local target writes each execution's report, keeps it current, and survives failures."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pipeline.core.records import StepRecord
from pipeline.report import write
from pipeline.targets.local import LocalTarget
from tests.pipeline.local.local_defs import pipeline


def _statuses(path: Path) -> dict[str, str]:
    return dict(re.findall(r'data-step="([^"]+)" data-status="([^"]+)"', path.read_text()))


def test_run_writes_the_report_and_rewrites_it_after_each_step(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    target = LocalTarget(tmp_path, endpoints=fake_endpoints)
    target.upsert_pipeline(pipeline(), None)
    arn = target.start_execution("p", {})
    path = tmp_path / "executions" / arn.rsplit("/", 1)[-1] / "report.html"
    seen_while_running: dict[str, dict[str, str]] = {}

    def on_step(record: StepRecord) -> None:
        if record.name == "Eval" and record.status == "Executing":
            seen_while_running["at Eval start"] = _statuses(path)

    summary = target.wait(arn, on_step)
    assert summary.status == "Succeeded", summary.failure_reason
    assert seen_while_running["at Eval start"]["Train"] == "Succeeded"
    assert seen_while_running["at Eval start"]["Eval"] == "NotRun"
    assert summary.report == str(path)
    final = _statuses(path)
    assert final["Deploy"] == "Succeeded" and final["TooLow"] == "NotRun"
    html = path.read_text()
    assert 'id="execution-status">Succeeded' in html
    assert 'data-metric="train:loss"' in html  # FinalMetricDataList from the training log
    # The fake training job ships no code/inference.py: the boundary says so, not faked.
    assert "Not shown: the model&#39;s own code could not score the grid" in html
    assert len(html.encode()) < write.MAX_REPORT_BYTES
    assert summary.metrics["train:loss"] == 0.5
    assert summary.quality_report_uri is not None
    assert summary.quality_report_uri.endswith("/evaluation.json")


def test_a_report_that_cannot_be_written_never_fails_the_run(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(
        self: write.ReportWriter, execution_id: str, out: Path | None = None, final: bool = True
    ) -> Path:
        raise OSError("disk full")

    monkeypatch.setattr(write.ReportWriter, "write", broken)
    target = LocalTarget(tmp_path, endpoints=fake_endpoints)
    target.upsert_pipeline(pipeline(), None)
    summary = target.wait(target.start_execution("p", {}), lambda record: None)
    assert summary.status == "Succeeded"
    assert target.notes == ["report not written: OSError: disk full"]
    assert summary.report is None


def test_report_out_writes_where_asked(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    target = LocalTarget(tmp_path / "store", endpoints=fake_endpoints)
    target.upsert_pipeline(pipeline(), None)
    summary = target.wait(target.start_execution("p", {}), lambda record: None)
    out = write.write_local_report(target.store_root, summary.execution_id, tmp_path / "r.html")
    assert out == tmp_path / "r.html"
    assert _statuses(out) == _statuses(Path(str(summary.report)))
