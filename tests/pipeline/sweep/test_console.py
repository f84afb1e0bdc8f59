"""pipeline.sweep.console: LiveLines (one block redrawn in place on a terminal, one line per
change anywhere else: a pipe, a log, TERM=dumb, a block taller than the screen), and the
line Ctrl-C ends a sweep with."""

from __future__ import annotations

import io

import pytest

from pipeline.console import Console
from pipeline.core.records import ExecutionSummary
from pipeline.sweep.console import LiveLines, interrupted_line
from pipeline.sweep.plan import grid, parse_axes


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def screen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("LINES", "24")


def _run_two_points(out: io.StringIO) -> None:
    points = grid(parse_axes(["HiddenDim=8,16"]))
    live = LiveLines(Console(out, io.StringIO()), points)
    points[0].execution_arn = "arn/a"
    live.show(points[0])
    live.show(points[0])  # unchanged: nothing drawn
    points[0].summary = ExecutionSummary("p", "arn/a", "a" * 40, "Succeeded")
    live.show(points[0])


def test_on_a_terminal_the_block_is_redrawn_in_place_and_cut_to_the_width() -> None:
    out = Terminal()
    _run_two_points(out)
    assert out.getvalue() == (
        "\r\x1b[2K[1/2 HiddenDim=8] Executing\n"
        "\r\x1b[2K[2/2 HiddenDim=16] Pending\n"
        "\x1b[2A\r\x1b[2K[1/2 HiddenDim=8] Succeeded  aaaaaaaaaa\n"  # 39 columns of 40
        "\r\x1b[2K[2/2 HiddenDim=16] Pending\n"
    )


def test_in_a_pipe_each_change_is_a_line_of_its_own() -> None:
    out = io.StringIO()
    _run_two_points(out)
    assert out.getvalue() == (
        f"[1/2 HiddenDim=8] Executing\n[1/2 HiddenDim=8] Succeeded  {'a' * 40}\n"
    )


def test_a_dumb_terminal_or_a_block_taller_than_the_screen_gets_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TERM", "dumb")
    out = Terminal()
    _run_two_points(out)
    assert "\x1b[" not in out.getvalue()
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("LINES", "2")
    out = Terminal()
    _run_two_points(out)
    assert "\x1b[" not in out.getvalue()


def test_the_interrupted_line_shows_what_the_service_says_and_nothing_to_resume() -> None:
    points = grid(parse_axes(["HiddenDim=8,16"]))
    points[0].summary = ExecutionSummary("p", "arn/a", "a", "Stopping")
    points[1].summary = ExecutionSummary("p", "arn/b", "b", "Succeeded")
    assert interrupted_line(points) == (
        "interrupted; the sweep stopped its running points (HiddenDim=8: Stopping); "
        "resume one with --retry a, or run the sweep again (points that succeeded are reused)"
    )
    assert interrupted_line(grid(parse_axes(["HiddenDim=8"]))).startswith(
        "interrupted; the sweep stopped its running points (none was running); 1 not started; "
        "run the sweep again"
    )
