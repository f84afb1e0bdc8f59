"""ReportWriter: a local run's page kept current (the in-process keeper), a page that cannot be
written never failing the run, and the same writer for any target's facts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pipeline.core.records import ExecutionData, StepRecord
from pipeline.report import write
from pipeline.report.background import InProcessKeeper
from pipeline.targets.local import LocalTarget
from tests.pipeline.local.local_defs import pipeline


def _statuses(path: Path) -> dict[str, str]:
    return dict(re.findall(r'data-step="([^"]+)" data-status="([^"]+)"', path.read_text()))


def test_run_writes_the_report_and_rewrites_it_after_each_step(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    target = LocalTarget(tmp_path, endpoints=fake_endpoints, reports=InProcessKeeper())
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
    assert seen_while_running["at Eval start"]["Eval"] == "Pending"
    assert summary.report == str(path)
    final = _statuses(path)
    assert final["Deploy"] == "Succeeded" and final["TooLow"] == "Untaken"
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
    target = LocalTarget(tmp_path, endpoints=fake_endpoints, reports=InProcessKeeper())
    target.upsert_pipeline(pipeline(), None)
    summary = target.wait(target.start_execution("p", {}), lambda record: None)
    assert summary.status == "Succeeded"
    assert target.notes == ["report not written: OSError: disk full"]
    assert summary.report is None


def test_report_out_writes_where_asked(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    target = LocalTarget(tmp_path / "store", endpoints=fake_endpoints, reports=InProcessKeeper())
    target.upsert_pipeline(pipeline(), None)
    summary = target.wait(target.start_execution("p", {}), lambda record: None)
    out = write.ReportWriter(target).write(summary.execution_id, tmp_path / "r.html")
    assert out == tmp_path / "r.html"
    assert _statuses(out) == _statuses(Path(str(summary.report)))


def test_no_keeper_draws_no_page(tmp_path: Path, fake_endpoints: list[dict[str, Any]]) -> None:
    target = LocalTarget(tmp_path, endpoints=fake_endpoints)
    target.upsert_pipeline(pipeline(), None)
    summary = target.wait(target.start_execution("p", {}), lambda record: None)
    assert (summary.status, summary.report, target.notes) == ("Succeeded", None, [])
    assert not target.report_path(summary.execution_id).exists()


class _ElsewhereTarget:
    """A target whose executions' model is not on this machine (as on SageMaker): the facts
    of a local run, its data without a model file, its pages in a folder of its own."""

    def __init__(self, local: LocalTarget, pages: Path) -> None:
        self.local, self.pages = local, pages

    def execution_facts(self, execution_id: str) -> Any:
        return self.local.execution_facts(execution_id)

    def execution_data(self, execution_id: str) -> ExecutionData:
        return ExecutionData(note="the model is not on this machine")

    def report_path(self, execution_id: str) -> Path:
        return self.pages / f"report-{execution_id}.html"

    def comparison_path(self, execution_ids: Any) -> Path:
        return self.pages / f"{'+'.join(execution_ids)}.html"


def test_one_writer_for_any_target_page_comparison_and_verdict(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    local = LocalTarget(tmp_path / "store", endpoints=fake_endpoints)
    local.upsert_pipeline(pipeline(), None)
    ids = [
        local.wait(local.start_execution("p", {"HiddenDim": h}), lambda r: None).execution_id
        for h in (20, 40)
    ]
    target: Any = _ElsewhereTarget(local, tmp_path)
    page = write.ReportWriter(target).write(ids[0])
    assert page == tmp_path / f"report-{ids[0]}.html"
    assert "Not shown: the model is not on this machine" in page.read_text()
    comparison, path = write.write_comparison(target, ids)
    assert path == tmp_path / f"{ids[0]}+{ids[1]}.html" and ids[1] in path.read_text()
    assert write.comparison_of(target, ids) == comparison
    assert not list((tmp_path / "store").glob("executions/*/report-boundary.json"))
