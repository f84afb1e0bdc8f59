"""--ui in a fresh process, as a person runs it: Ctrl-C or SIGTERM ends it quietly."""

from __future__ import annotations

import signal
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.cli_runner import started_ui

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_studio_stops_on_a_signal_without_the_runs_interrupted_line(
    tmp_path: Path, signum: int
) -> None:
    """It ran nothing of its own: run_pipeline's "interrupted; ... recorded as Stopped"
    line (what a run says) was printed when uvicorn raised the signal again."""
    process, url = started_ui(tmp_path / "store")
    base, token = url.split("/?token=")
    asked = urllib.request.Request(base + "/", headers={"Authorization": f"token {token}"})
    try:  # serving, as a person sees it (an empty store's page says to run a pipeline first)
        urllib.request.urlopen(asked, timeout=60).close()
    except urllib.error.HTTPError as answered:
        assert answered.code == 404, answered
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert (process.returncode, err) == (0, ""), err
