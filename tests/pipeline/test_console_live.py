"""Issue 20: a long step is not silent — one live line per running step from the metrics
its job logs, redrawn in place on a terminal, a line per change in a pipe (at most one a
second per step); and every result names the store it used."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from pipeline.console import Console
from pipeline.core.records import ExecutionSummary, StepRecord

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
PATTERNS = {
    "Train": [
        ("train:loss", r"train_loss=([0-9.eE+-]+)"),
        ("train:accuracy", r"train_accuracy=([0-9.eE+-]+)"),
    ]
}


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _train(console: Console, clock: Clock | None = None, epochs: int = 3) -> None:
    console.step(StepRecord("Train", "Training", "Executing", started_at=T0))
    for epoch in range(1, epochs + 1):
        console.live_line("Train", f"epoch={epoch} train_loss={1 / epoch:.4f} train_accuracy=0.9")
        console.live_line("Train", "a line without metrics")
        if clock is not None:
            clock.now += 0.4
    ended = StepRecord("Train", "Training", "Succeeded", T0, T0 + timedelta(seconds=3))
    console.step(ended)


def test_in_a_pipe_each_change_is_a_line_at_most_one_a_second_per_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TERM", "xterm")
    out, clock = io.StringIO(), Clock()
    console = Console(out, io.StringIO(), clock=clock)
    console.watch_metrics(lambda: PATTERNS)
    _train(console, clock, epochs=6)  # 0.4 s apart: epochs 1, 4 (1.2 s), and none after
    assert out.getvalue().splitlines() == [
        "  started    Train (Training)",
        "  running    Train (Training)  epoch 1  train:loss 1  train:accuracy 0.9",
        "  running    Train (Training)  epoch 4  train:loss 0.25  train:accuracy 0.9",
        "  succeeded  Train (Training)  3.0 s",
    ]
    assert "\x1b[" not in out.getvalue()


def test_on_a_terminal_the_running_steps_line_is_redrawn_in_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TERM", "xterm")
    out = Terminal()
    console = Console(out, io.StringIO())
    console.watch_metrics(lambda: PATTERNS)
    _train(console)
    text = out.getvalue()
    redraws = re.findall(r"\x1b\[1A\r\x1b\[2K  running    Train \(Training\)  epoch (\d)", text)
    assert redraws == ["2", "3"]  # epoch 1 drawn below the start line, then redrawn twice
    screen = _render(text)
    assert screen == ["  started    Train (Training)", "  succeeded  Train (Training)  3.0 s"]


def test_with_json_the_live_lines_go_to_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = io.StringIO(), io.StringIO()
    console = Console(out, err, json_mode=True)
    console.watch_metrics(lambda: PATTERNS)
    _train(console, epochs=1)
    assert out.getvalue() == "" and "running    Train (Training)  epoch 1" in err.getvalue()


def test_a_step_without_metric_definitions_shows_its_epochs_and_no_definition_breaks_it() -> None:
    out = io.StringIO()
    console = Console(out, io.StringIO())

    def broken() -> dict[str, list[tuple[str, str]]]:
        raise RuntimeError("no stored definition")

    console.watch_metrics(broken)
    console.step(StepRecord("Prep", "Processing", "Executing", started_at=T0))
    console.live_line("Prep", "Epoch 7/10 done")
    console.live_line("Other", "epoch 1")  # not a running step: nothing
    assert out.getvalue().splitlines()[-1] == "  running    Prep (Processing)  epoch 7"


def test_follow_keeps_every_job_line_and_no_live_line() -> None:
    out = io.StringIO()
    console = Console(out, io.StringIO())
    console.job_line("Train", "epoch=1 train_loss=1")
    console.live_line("Train", "epoch=1 train_loss=1")  # no watch_metrics: ignored
    assert out.getvalue() == "      | epoch=1 train_loss=1\n"


def _render(text: str) -> list[str]:
    """What a terminal shows after ``text``: lines, with cursor-up and clear-line applied."""
    lines: list[str] = [""]
    row = 0
    for token in re.split(r"(\x1b\[\d*A|\x1b\[2K|\r|\n)", text):
        if not token:
            continue
        if token.startswith("\x1b[") and token.endswith("A"):
            row -= int(token[2:-1] or 1)
        elif token == "\x1b[2K":
            lines[row] = ""
        elif token == "\r":
            pass
        elif token == "\n":
            row += 1
            if row == len(lines):
                lines.append("")
        else:
            lines[row] += token
    return [line for line in lines if line]


# -- the store in every result ------------------------------------------------------------


def _summary(**extra: object) -> ExecutionSummary:
    summary = ExecutionSummary(
        "p", "arn:e1", "e1", "Succeeded", started_at=T0, ended_at=T0 + timedelta(seconds=2)
    )
    return replace(summary, **extra)  # type: ignore[arg-type]


def test_the_summary_and_its_json_name_the_store() -> None:
    out = io.StringIO()
    console = Console(out, io.StringIO())
    console.store = "/home/me/project/.moonpipe"
    console.execution(_summary(), None)
    assert "  store:          /home/me/project/.moonpipe" in out.getvalue().splitlines()
    out = io.StringIO()
    console = Console(out, io.StringIO(), json_mode=True)
    console.store = "/home/me/project/.moonpipe"
    console.execution(_summary(), None)
    assert out.getvalue().startswith('{\n  "store": "/home/me/project/.moonpipe",')


def test_list_executions_keeps_lines_short_and_shows_the_newest_limit() -> None:
    """Issue 20: --list-executions lines reached 238 characters, with no limit."""
    reason = "Step TrainMoonClassifier failed: " + "x" * 200
    rows = [
        _summary(execution_id=f"e{i}", failure_reason=reason, parameters={"HiddenDim": 8})
        for i in range(30)
    ]
    out = io.StringIO()
    console = Console(out, io.StringIO())
    console.store = "/s"
    console.executions(rows, {"HiddenDim": 20}, limit=20)
    lines = out.getvalue().splitlines()
    assert len(lines) == 22 and max(len(line) for line in lines) <= 120
    assert (
        lines[-1]
        == "20 of 30 executions; 10 older not shown (--limit N, or --limit 0 for all); store: /s"
    )
    assert lines[1].split()[:2] == ["e0", "Succeeded"] and lines[1].endswith("xxx…")
