"""What the CLI benchmarks share: one timed run_pipeline.py process, how medians print, and
letting a store go quiet between scenarios.

A benchmark measures what a person waits for, so every call is a fresh process (imports
included) with ``--json``, whose output says what ran. The command line is the tests'
(tests/cli_runner.py): the repository as working directory, ``--target local --store``.
A benchmark runs as ``python benchmarks/bench_x.py``: its folder is on ``sys.path``, so
``from _common import ...`` finds this module, which puts the repository there too.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.cli_runner import local_cli_command  # noqa: E402


def timed_cli(
    store: Path,
    *flags: str,
    code: str | None = None,
    env: Mapping[str, str] | None = None,
    ok: Collection[int] = (0,),
) -> tuple[float, dict[str, Any]]:
    """(wall seconds, parsed --json output) of one CLI process on ``store``.

    ``code`` stands in for run_pipeline.py (``python -c``), e.g. to stub a part out; ``env``
    replaces the inherited environment. An exit code outside ``ok`` ends the benchmark
    with the command's flags and the tail of its stderr: a median of failures means nothing.
    """
    started = time.perf_counter()
    proc = subprocess.run(
        local_cli_command(store, "--json", *flags, code=code),
        cwd=REPO,
        capture_output=True,
        text=True,
        env=None if env is None else dict(env),
        check=False,
    )
    elapsed = time.perf_counter() - started
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(flags)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed, json.loads(proc.stdout)


def quiet_cli(store: Path, *flags: str, env: Mapping[str, str] | None = None) -> None:
    """One CLI process whose output and exit code do not matter (clean-up between rounds)."""
    subprocess.run(
        local_cli_command(store, *flags),
        cwd=REPO,
        capture_output=True,
        env=None if env is None else dict(env),
        check=False,
    )


FLOOR_CODE = "import torch, pandas, sklearn.metrics"


def import_floor() -> float:
    """Wall seconds of a fresh interpreter importing torch, pandas and sklearn.metrics: the
    floor a cold run of the pipeline would pay before any work. Speed goals are ratios to it,
    measured in the same run, so a busy machine moves the figure and its floor together."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", FLOOR_CODE], cwd=REPO, check=True)
    return time.perf_counter() - started


def ratio_line(
    label: str, seconds: Sequence[float], floors: Sequence[float], goal: float | None
) -> str:
    """``label: 0.31x the floor (median of 1.2 s / 3.9 s; runs ...) — meets the 0.35x goal``.

    Each run is divided by the floor measured right beside it; the median of those ratios is
    the figure.
    """
    ratios = [s / f for s, f in zip(seconds, floors, strict=True)]
    median = statistics.median(ratios)
    runs = ", ".join(f"{s:.2f}/{f:.2f}" for s, f in zip(seconds, floors, strict=True))
    line = (
        f"{label}: {median:.2f}x the floor (median {statistics.median(seconds):.2f} s; "
        f"run/floor s: {runs})"
    )
    if goal is None:
        return line + " — no goal"
    return f"{line} — {'meets' if median <= goal else 'misses'} the {goal:g}x goal"


def median_and_runs(seconds: Sequence[float]) -> str:
    """``median 1.23 s (1.20, 1.23, 1.31)``: the median, then every run, so noise shows."""
    runs = ", ".join(f"{s:.2f}" for s in seconds)
    return f"median {statistics.median(seconds):.2f} s ({runs})"


def let_go(store: Path, within_s: float = 180.0, stop_host: bool = True) -> None:
    """Wait for the store's background report writers to finish (and stop its warm host),
    so the next scenario starts on quiet cores and the store can be removed.

    A run's report is drawn by a detached, low-priority follower after the CLI has exited;
    removing the store under it fails ("Directory not empty"), and timing the next run
    beside it measures the follower too.
    """
    if stop_host:
        quiet_cli(store, "--stop-host")
    deadline = time.monotonic() + within_s
    while _users(store, stop_host) and time.monotonic() < deadline:
        time.sleep(0.2)


def _users(store: Path, with_host: bool) -> list[str]:
    """Processes whose command line names the store (report writers, the host, servers)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().decode(errors="replace")
            if str(store) in text and (with_host or "warm/host.py" not in text):
                found.append(cmdline.parent.name)
        except OSError:
            continue  # it ended while we looked
    return found
