"""LocalRunner: a run's lifecycle in one process (the cross-process cases, killed and stopped
runners, are in test_interruptions.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline.core.errors import MoonpipeError
from pipeline.core.records import StepRecord
from pipeline.local import interruptions
from pipeline.local.graph import parse_definition
from pipeline.local.runner import LocalRunner
from tests.pipeline.local.engine import local_runner
from tests.pipeline.local.local_defs import full_definition, pipeline


class _Keeper:
    """A ReportKeeper recording the refreshes of the page it keeps."""

    def __init__(self) -> None:
        self.refreshes: list[bool] = []

    def follow(self, store_root: Path, execution_id: str, notes: list[str]) -> Any:
        return self

    def refresh(self, final: bool = True) -> None:
        self.refreshes.append(final)

    def draw_later(self, *args: Any) -> None:
        raise AssertionError("a run draws no later pages")


def _runner(store: Path, **settings: Any) -> LocalRunner:
    definition = full_definition()
    definition["Steps"] = definition["Steps"][:3]  # data, train, evaluate: no hosting
    runner = local_runner(store, **settings)
    runner.pipelines.upsert(pipeline(definition), None)
    return runner


def _interrupt_at_train(record: StepRecord) -> None:
    if (record.name, record.status) == ("Train", "Executing"):
        raise KeyboardInterrupt


INTERRUPTED = "interrupted (Ctrl-C or SIGTERM) before it finished; resume it with --retry "


def test_ctrl_c_ends_the_execution_and_its_running_step_stopped_and_goes_on_up(
    tmp_path: Path,
) -> None:
    keeper = _Keeper()
    runner = _runner(tmp_path, reports=keeper)
    arn = runner.start("p", {})
    with pytest.raises(KeyboardInterrupt):
        runner.run(arn, _interrupt_at_train)
    summary = runner.describe(arn)
    reason = INTERRUPTED + summary.execution_id
    assert (summary.status, summary.failure_reason) == ("Stopped", reason)
    assert [(s.name, s.status) for s in summary.steps] == [
        ("Prep", "Succeeded"),
        ("Train", "Stopped"),
    ]
    assert keeper.refreshes == [False, False]  # after Prep; after the interruption, no wait
    assert not interruptions.claimed(runner.settle(arn))  # nothing left Executing


def test_ctrl_c_after_a_stop_is_the_stop_working_the_run_returns(tmp_path: Path) -> None:
    runner = _runner(tmp_path)
    arn = runner.start("p", {})

    def stop_then_interrupt(record: StepRecord) -> None:
        if (record.name, record.status) == ("Train", "Executing"):
            path = runner.records.layout.stop_request(record_id)
            path.write_text(json.dumps({"by": "test"}))
            raise KeyboardInterrupt

    record_id = arn.rsplit("/", 1)[-1]
    summary = runner.run(arn, stop_then_interrupt)
    assert (summary.status, summary.failure_reason) == (
        "Stopped",
        "stopped by --stop before it finished",
    )
    assert {s.name: s.status for s in summary.steps}["Train"] == "Stopped"


def test_a_retried_execution_resumes_from_the_step_that_did_not_succeed(tmp_path: Path) -> None:
    runner = _runner(tmp_path)
    arn = runner.start("p", {})
    with pytest.raises(KeyboardInterrupt):
        runner.run(arn, _interrupt_at_train)
    seen: list[StepRecord] = []
    assert runner.retry(arn) == arn
    summary = runner.run(arn, seen.append)
    assert summary.status == "Succeeded", summary.failure_reason
    assert [r.name for r in seen if r.status == "Executing"] == ["Train", "Eval"]
    attempts = runner.records.execution(summary.execution_id).extra["attempts"]
    assert [(a["attempt"], a["status"]) for a in attempts] == [(1, "Stopped")]


def test_an_ended_execution_is_only_described_and_a_held_one_refused(tmp_path: Path) -> None:
    keeper = _Keeper()
    runner = _runner(tmp_path, reports=keeper)
    done = runner.run(runner.start("p", {}), lambda record: None)
    keeper.refreshes.clear()
    assert runner.run(done.execution_arn, lambda record: None) == done
    assert keeper.refreshes == []  # not run again: nothing to draw
    arn = runner.start("p", {})
    execution_id = arn.rsplit("/", 1)[-1]
    interruptions.held_here(runner.records, execution_id).release()  # let another hold it
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(runner.store_root), execution_id],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(MoonpipeError, match="is already being run by another process"):
            runner.run(arn, lambda record: None)
        assert runner.describe(arn).status == "Executing"
    finally:
        holder.kill()
        holder.wait()
    assert runner.describe(arn).status == "Failed"  # its holder is gone: the next reader ends it


HOLDER = """
import sys, time
from pathlib import Path
from pipeline.local.interruptions import hold
from pipeline.local.store.records import Records
hold(Records(Path(sys.argv[1])), sys.argv[2])
print("held", flush=True)
time.sleep(60)
"""
REPO = Path(__file__).resolve().parents[3]


def test_the_runner_lock_is_held_until_the_end_is_recorded(tmp_path: Path) -> None:
    """No reader may find the lock free while the record still says Executing."""
    from pipeline.local.liveness import is_held

    runner = _runner(tmp_path)
    arn = runner.start("p", {})
    execution_id = arn.rsplit("/", 1)[-1]
    lock = runner.records.layout.runner_lock(execution_id)
    seen: list[tuple[str, bool]] = []

    def watch(record: StepRecord) -> None:
        seen.append((runner.records.execution(execution_id).status, is_held(lock)))

    assert runner.run(arn, watch).status == "Succeeded"
    assert seen and all(held for _, held in seen)
    assert not is_held(lock)


def _counting_summaries(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the executions the runner summarizes from here on (read from records)."""
    import pipeline.local.runner as runner_module

    read: list[str] = []
    real = runner_module.summarize

    def counted(records: Any, objects: Any, execution_id: str, **kw: Any) -> Any:
        read.append(execution_id)
        return real(records, objects, execution_id, **kw)

    monkeypatch.setattr(runner_module, "summarize", counted)
    return read


def test_a_listing_reads_an_ended_execution_again_only_when_its_files_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The UI lists every half second: an unchanged ended execution is not read again, and
    a retry (its record rewritten, its steps run again) is seen in the next listing."""
    runner = _runner(tmp_path)
    arn = runner.start("p", {})
    with pytest.raises(KeyboardInterrupt):
        runner.run(arn, _interrupt_at_train)
    read = _counting_summaries(monkeypatch)
    [first] = runner.executions("p")
    assert first.status == "Stopped" and len(read) == 1
    assert runner.executions("p") == [first] and len(read) == 1  # unchanged: kept
    runner.retry(arn)
    [again] = runner.executions("p")
    assert again.status == "Executing" and len(read) == 2
    runner.executions("p")
    assert len(read) == 3  # a running execution is always read afresh
    runner.run(arn, lambda record: None)
    [ended] = runner.executions("p")
    assert ended.status == "Succeeded" and "accuracy" in ended.metrics
    page = runner.records.layout.report(ended.execution_id)
    page.write_text("<html></html>")
    [with_page] = runner.executions("p")
    assert with_page.report == str(page)


def test_a_new_process_lists_ended_executions_from_the_kept_file_while_their_files_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--ui and --list-executions start in a new process: the summaries of ended executions
    come from listing.json, not from reading every record again, and only while the files
    they were read from are unchanged; a damaged file is read around and replaced."""
    runner = _runner(tmp_path)
    for _ in range(2):
        runner.run(runner.start("p", {}), lambda record: None)
    listed = runner.executions("p")
    kept_file = runner.records.layout.listing()
    assert kept_file.is_file()
    read = _counting_summaries(monkeypatch)
    assert local_runner(tmp_path).executions("p") == listed and read == []
    newest = listed[0].execution_id
    page = runner.records.layout.report(newest)
    page.write_text("<html></html>")  # a file the summary shows changed: read again
    fresh = local_runner(tmp_path).executions("p")
    assert read == [newest] and fresh[0].report == str(page) and fresh[1:] == listed[1:]
    kept_file.write_text('{"version": 1, "entries": {"' + newest + '": 7}')  # cut short
    assert local_runner(tmp_path).executions("p") == fresh and len(read) == 3
    assert local_runner(tmp_path).executions("p") == fresh and len(read) == 3  # replaced


def _deployer_loaded_when_stopped_at_eval(tmp_path: Path, definition: dict[str, Any]) -> bool:
    """Whether a run stopped once its second job starts has its endpoint manager loaded."""
    import threading

    runner = local_runner(tmp_path)
    runner.pipelines.upsert(pipeline(definition), None)

    def stop_at_eval(record: StepRecord) -> None:
        if (record.name, record.status) == ("Eval", "Executing"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner.run(runner.start("p", {}), stop_at_eval)
    for thread in threading.enumerate():
        if thread.name == "deployer-ready":
            thread.join(10)
    return runner._endpoint_manager is not None


def test_a_deploying_run_loads_its_deployer_while_its_first_job_runs(tmp_path: Path) -> None:
    """The import (~15 ms) happens while the run waits on a job, not at the Endpoint step:
    here the run is stopped before it ever reaches that step."""
    definition = full_definition()
    steps = parse_definition(json.dumps(definition)).steps
    assert "Endpoint" in {spec.step_type for spec in steps}  # in a condition's branch
    assert _deployer_loaded_when_stopped_at_eval(tmp_path, definition)


def test_a_run_that_deploys_nothing_never_loads_the_deployer(tmp_path: Path) -> None:
    definition = full_definition()
    definition["Steps"] = definition["Steps"][:3]  # data, train, evaluate: no hosting
    assert not _deployer_loaded_when_stopped_at_eval(tmp_path, definition)
