"""A job's text reaches a terminal without its control sequences (issue 21, finding 10): the
run's summary, --list-executions and --describe-execution printed a failure message's and a
log's ``ESC ] 0 ; TITLE BEL`` (the window's title) and ``ESC [ 2K`` (erase the line) raw."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.text import plain
from tests.cli_runner import run_local_cli
from tests.pipeline.local.engine import local_runner
from tests.pipeline.local.sdk_defs import integrity_pipeline

pytestmark = pytest.mark.e2e

BANNER = "fail:\x1b]0;OWNED\x07\x1b[2K\x1b[31mred\x1b[0m\rover\x9b2Jdone"


def test_a_jobs_escape_codes_never_reach_the_terminal(tmp_path: Path) -> None:
    store = tmp_path / "store"
    local_runner(store).pipelines.upsert(integrity_pipeline(), None)
    run = run_local_cli(store, "--start", "--follow", "--param", f"Banner={BANNER}")
    assert run.returncode == 1, run.stderr
    [execution_id] = [p.name for p in (store / "executions").iterdir()]
    listed = run_local_cli(store, "--list-executions")
    described = run_local_cli(store, "--describe-execution", execution_id)
    for shown in (run, listed, described):
        text = shown.stdout + shown.stderr
        assert "\x1b" not in text and "\x9b" not in text and "\x07" not in text, text
        assert "\r" not in text
    assert "fail:redoverdone" in run.stdout  # the reason itself is kept, as text
    assert "fail:redoverdone" in described.stdout


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b]0;TITLE\x07hello", "hello"),
        ("a\x1b[2Kb", "ab"),
        ("\x1b[1;31mred\x1b[0m", "red"),
        ("\x1bPq#0;2;0;0;0\x1b\\image", "image"),
        ("8-bit \x9b2J\x9d0;t\x9cend", "8-bit end"),
        ("bell\x07 backspace\x08 cr\r", "bell backspace cr"),
        ("right-to-left \u202eevil", "right-to-left evil"),
        ("lines\nand\ttabs stay", "lines\nand\ttabs stay"),
        ("plain text, ünïcode 漢字", "plain text, ünïcode 漢字"),
        ("a lone ESC at the end\x1b", "a lone ESC at the end"),
    ],
)
def test_plain(text: str, shown: str) -> None:
    assert plain(text) == shown
