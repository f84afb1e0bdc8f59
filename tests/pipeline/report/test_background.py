"""The report keepers: the CLI's runs leave the page to a detached follower (the run does not
wait for plots); a sweep's points draw nothing while they run; tests draw in process."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pipeline.local import listing
from pipeline.report.background import (
    BackgroundKeeper,
    BackgroundReports,
    DeferredKeeper,
    InProcessKeeper,
    write_reports,
)
from pipeline.targets.local import LocalTarget
from tests.pipeline.local.local_defs import pipeline


def _statuses(path: Path) -> dict[str, str]:
    return dict(re.findall(r'data-step="([^"]+)" data-status="([^"]+)"', path.read_text()))


def _final_report_with_plots(path: Path, within_s: float = 120.0) -> str:
    """The page once the follower has drawn its plots (after the run)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        html = path.read_text() if path.is_file() else "being drawn in the background"
        if "being drawn in the background" not in html:
            assert 'id="execution-status">Succeeded' in html
            return html
        time.sleep(0.1)
    raise AssertionError(f"no report with plots at {path}")


def test_the_run_returns_first_and_the_follower_writes_the_final_report(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    target = LocalTarget(tmp_path, endpoints=fake_endpoints, reports=BackgroundKeeper())
    target.upsert_pipeline(pipeline(), None)
    summary = target.wait(target.start_execution("p", {}), lambda record: None)
    path = tmp_path / "executions" / summary.execution_id / "report.html"
    assert summary.status == "Succeeded"
    # The page is there, with the final status, when the run returns (the CLI prints its
    # path next): it used to appear seconds later and say "Executing" for seconds more.
    assert summary.report == str(path)
    assert 'id="execution-status">Succeeded' in path.read_text()
    assert _statuses(path)["Deploy"] == "Succeeded"
    assert target.notes == [
        f"report {path}: its plots are being drawn in the background "
        "(reload it in a few seconds, or run --report to wait for them)"
    ]
    html = _final_report_with_plots(path)
    assert _statuses(path)["Deploy"] == "Succeeded"
    assert 'data-metric="train:loss"' in html
    log = tmp_path / "executions" / summary.execution_id / "report.log"
    assert log.read_text() == ""  # the follower had nothing to complain about
    # its last act: the listing kept with the final page, so --ui reads nothing again
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        entry = listing.load(tmp_path / "listing.json").get(summary.execution_id)
        if entry is not None and entry[0] == target.runner._files_of(summary.execution_id):
            break
        time.sleep(0.1)
    assert entry is not None and entry[1].report == str(path) and entry[1].status == "Succeeded"


def _deferred_runs(store: Path, fake_endpoints: Any, hidden_dims: list[str]) -> list[str]:
    """Executions run as sweep points run them: nothing written while they run."""
    target = LocalTarget(store, endpoints=fake_endpoints, reports=DeferredKeeper())
    target.upsert_pipeline(pipeline(), None)
    ids = []
    for hidden_dim in hidden_dims:
        arn = target.start_execution("p", {"HiddenDim": hidden_dim})
        ids.append(target.wait(arn, lambda record: None).execution_id)
    assert target.notes == []
    assert not list(store.glob("executions/*/report.html"))
    return ids


def test_write_reports_writes_every_page_then_the_comparison_and_survives_a_bad_id(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    ids = _deferred_runs(tmp_path, fake_endpoints, ["4", "8"])
    out = tmp_path / "comparisons" / "both.html"
    assert write_reports(tmp_path, out, ["nosuchrun", *ids]) == 1
    for execution_id in ids:
        path = tmp_path / "executions" / execution_id / "report.html"
        assert 'id="execution-status">Succeeded' in path.read_text()
    page = out.read_text()
    assert all(execution_id in page for execution_id in ids)
    kept = listing.load(tmp_path / "listing.json")  # kept with the pages, as after a sweep
    runner = LocalTarget(tmp_path).runner
    assert all(kept[i][0] == runner._files_of(i) and kept[i][1].report for i in ids)


def test_background_reports_are_written_after_the_caller_has_moved_on(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    ids = _deferred_runs(tmp_path, fake_endpoints, ["4", "8"])
    notes: list[str] = []
    out = tmp_path / "comparisons" / "later.html"
    BackgroundReports(tmp_path, ids, out, notes)
    assert notes == [
        "the points' reports and the comparison report are being written in the background "
        "(--report ID or --compare ID ID ... writes one now and waits)"
    ]
    for execution_id in ids:
        _final_report_with_plots(tmp_path / "executions" / execution_id / "report.html")
    deadline = time.monotonic() + 120
    while not out.is_file() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ids[0] in out.read_text()


def test_the_deferred_and_background_keepers_draw_a_sweeps_pages_in_the_background(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    ids = _deferred_runs(tmp_path, fake_endpoints, ["4", "8"])
    target = LocalTarget(tmp_path, endpoints=fake_endpoints, reports=DeferredKeeper())
    out = tmp_path / "comparisons" / "deferred.html"
    target.draw_pages_later(ids, out, ids[:1])
    assert target.notes == [
        "the points' reports and the comparison report are being written in the background "
        "(--report ID or --compare ID ID ... writes one now and waits)"
    ]
    _final_report_with_plots(tmp_path / "executions" / ids[0] / "report.html")
    deadline = time.monotonic() + 120
    while not out.is_file() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ids[1] in out.read_text()
    assert not (tmp_path / "executions" / ids[1] / "report.html").exists()  # not asked for


def test_the_in_process_keeper_draws_a_sweeps_pages_before_it_returns(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    ids = _deferred_runs(tmp_path, fake_endpoints, ["4", "8"])
    target = LocalTarget(tmp_path, endpoints=fake_endpoints, reports=InProcessKeeper())
    out = tmp_path / "comparisons" / "now.html"
    target.draw_pages_later(["nosuchrun", *ids], out, ["nosuchrun", *ids])
    assert target.notes == [
        "report of nosuchrun not written: ExecutionNotFoundError: no local execution "
        "'nosuchrun'; list them with --list-executions"
    ]
    for execution_id in ids:
        path = tmp_path / "executions" / execution_id / "report.html"
        assert 'id="execution-status">Succeeded' in path.read_text()
    assert all(execution_id in out.read_text() for execution_id in ids)


def test_the_final_pages_templates_are_compiled_once_the_run_waits_on_a_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page written before the path is printed finds its templates compiled: the keeper
    compiles them in a thread once the run's first job has started (the run waits on it);
    sooner, the thread's imports would delay that job."""
    from pipeline.local.handlers import jobs
    from pipeline.report import render
    from pipeline.report.background import BackgroundReport

    started = threading.Event()
    monkeypatch.setattr(jobs, "A_JOB_STARTED", started)
    render.environment.cache_clear()
    keeper = BackgroundReport(tmp_path / "store", "no-such-execution", [])
    time.sleep(0.3)
    assert render.environment.cache_info().currsize == 0  # no job yet: nothing compiled
    started.set()
    keeper._ready.join(timeout=60)
    assert not keeper._ready.is_alive()
    assert render.environment.cache_info().currsize == 1
    compiled = [key[1] for key in render.environment().cache]  # (loader, name) keys
    assert "report.html.j2" in compiled


def test_the_follower_stays_quiet_for_its_first_second(
    tmp_path: Path, fake_endpoints: list[dict[str, Any]]
) -> None:
    """A short run's jobs share two cores with the follower: it imports and draws nothing
    in its quiet time, then writes the page of an execution that ended meanwhile."""
    from pipeline.report.background import follow

    ids = _deferred_runs(tmp_path, fake_endpoints, ["4"])
    page = tmp_path / "executions" / ids[0] / "report.html"
    started = time.monotonic()
    assert follow(tmp_path, ids[0], quiet_s=0.8) == 0
    assert time.monotonic() - started >= 0.8
    assert 'id="execution-status">Succeeded' in page.read_text()
