"""What people read: step lines, summaries, tables, and the --json split of stdout/stderr."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pipeline.console import Console, step_lines, summary_lines, table_lines
from pipeline.core.records import EndpointRef, ExecutionSummary, StepRecord

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def ended(status: str, seconds: float, **extra: object) -> StepRecord:
    return StepRecord(
        "TrainMoonClassifier", "Training", status, T0, T0 + timedelta(seconds=seconds), **extra
    )


def test_running_step_is_one_started_line() -> None:
    record = StepRecord("PrepareMoonData", "Processing", "Executing", started_at=T0)
    assert step_lines(record) == ["  started    PrepareMoonData (Processing)"]


def test_finished_step_shows_duration_and_cache_hit() -> None:
    assert step_lines(ended("Succeeded", 3.25, cache_hit=True)) == [
        "  succeeded  TrainMoonClassifier (Training)  3.2 s, cache hit"
    ]
    assert step_lines(ended("Succeeded", 222)) == [
        "  succeeded  TrainMoonClassifier (Training)  3 min 42 s"
    ]


def test_failed_step_with_local_log_shows_reason_and_log_tail(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_text("".join(f"line {i}\n" for i in range(40)))
    lines = step_lines(ended("Failed", 1, failure_reason="exit code 1", log_path=str(log)))
    assert lines[:3] == [
        "  FAILED     TrainMoonClassifier (Training)  1.0 s",
        "      reason: exit code 1",
        f"      log: {log} (last 15 lines)",
    ]
    assert lines[3] == "      | line 25"
    assert lines[-1] == "      | line 39"


def test_failed_step_with_remote_log_says_where_it_is() -> None:
    where = "CloudWatch /aws/sagemaker/TrainingJobs stream job-1/..."
    lines = step_lines(ended("Failed", 1, failure_reason="AlgorithmError", log_path=where))
    assert lines[-1] == f"      log: {where}"


def summary(status: str, **extra: object) -> ExecutionSummary:
    return ExecutionSummary(
        pipeline_name="moonpipe",
        execution_arn="arn:x/execution/e1",
        execution_id="e1",
        status=status,
        started_at=T0,
        ended_at=T0 + timedelta(seconds=18.44),
        **extra,
    )


def test_summary_of_a_success_names_metrics_package_and_endpoint() -> None:
    lines = summary_lines(
        summary(
            "Succeeded",
            metrics={"accuracy": 0.92666666, "f1": 0.93},
            model_package_arn="arn:mp/3",
            endpoint=EndpointRef("moonpipe-endpoint", "http://127.0.0.1:8080"),
        ),
        notes=["step details unavailable"],
    )
    assert lines == [
        "execution e1 Succeeded in 18.4 s",
        "  execution arn:  arn:x/execution/e1",
        "  metrics:        accuracy=0.9267, f1=0.93",
        "  model package:  arn:mp/3",
        "  endpoint:       moonpipe-endpoint  http://127.0.0.1:8080",
        "  note: step details unavailable",
    ]


def test_summary_of_a_failure_gives_reason_and_next_command() -> None:
    lines = summary_lines(summary("Failed", failure_reason="accuracy 0.81 below threshold 0.9"))
    assert "  failure reason: accuracy 0.81 below threshold 0.9" in lines
    assert lines[-1] == (
        "  every step's reason and log: python run_pipeline.py --describe-execution e1"
    )


def test_json_mode_keeps_stdout_one_document_and_progress_on_stderr() -> None:
    out, err = io.StringIO(), io.StringIO()
    console = Console(out, err, json_mode=True)
    console.step(ended("Succeeded", 1))
    console.execution(summary("Succeeded"), "arn:pipe", notes=["n"])
    doc = json.loads(out.getvalue())
    assert (doc["pipeline_arn"], doc["notes"], doc["status"]) == ("arn:pipe", ["n"], "Succeeded")
    assert err.getvalue() == "  succeeded  TrainMoonClassifier (Training)  1.0 s\n"


def test_human_mode_writes_progress_and_result_to_stdout_errors_to_stderr() -> None:
    out, err = io.StringIO(), io.StringIO()
    console = Console(out, err)
    console.step(ended("Succeeded", 1))
    console.error("pipeline moonpipe not found; create it with --upsert")
    assert out.getvalue() == "  succeeded  TrainMoonClassifier (Training)  1.0 s\n"
    assert err.getvalue() == "error: pipeline moonpipe not found; create it with --upsert\n"


def test_definition_is_pretty_for_people_and_verbatim_for_json() -> None:
    text = '{"Version": "2020-12-01", "Steps": []}'
    human, machine = io.StringIO(), io.StringIO()
    Console(human, io.StringIO()).definition(text)
    Console(machine, io.StringIO(), json_mode=True).definition(text)
    assert human.getvalue() == '{\n  "Version": "2020-12-01",\n  "Steps": []\n}\n'
    assert machine.getvalue() == text + "\n"


def test_table_aligns_columns_and_empty_table_says_none() -> None:
    assert table_lines(("A", "BB"), [("xyz", "1"), ("q", "")]) == ["A    BB", "xyz  1", "q"]
    out = io.StringIO()
    Console(out, io.StringIO()).endpoints([])
    assert out.getvalue() == "(none)\n"


def test_invoked_prints_body_lines_once() -> None:
    out = io.StringIO()
    Console(out, io.StringIO()).invoked("ep", b"0\n1\n1\n", "text/csv")
    assert out.getvalue() == "0\n1\n1\n"


def test_long_parameter_lists_wrap_under_their_label() -> None:
    params = {f"Parameter{i}": f"value-{i}" for i in range(12)}
    lines = [x for x in summary_lines(summary("Succeeded", parameters=params)) if "Param" in x]
    assert len(lines) > 1
    assert lines[0].startswith("  parameters:     Parameter0=value-0, ")
    assert all(len(x) <= 100 and x.startswith(" " * 18) for x in lines[1:])
    assert " ".join(x.strip() for x in lines).endswith("Parameter11=value-11")


class ClosedPipe(io.StringIO):
    """stdout piped into `head` after head has exited: every flush fails."""

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_reader_that_went_away_silences_stdout_but_not_the_command() -> None:
    out, err = ClosedPipe(), io.StringIO()
    console = Console(out, err)
    console.step(StepRecord("PrepareMoonData", "Processing", "Executing"))  # does not raise
    console.progress("more progress")
    console.endpoints([])
    console.error("still reaches stderr")
    assert out.getvalue() == "  started    PrepareMoonData (Processing)\n"  # then silence
    assert err.getvalue() == "error: still reaches stderr\n"
