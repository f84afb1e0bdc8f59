"""What the CLI benchmarks share: one timed run_pipeline.py process, and how medians print.

A benchmark measures what a person waits for, so every call is a fresh process (imports
included) with ``--json``, whose output says what ran. The command line is the tests'
(tests/cli_runner.py): the repository as working directory, ``--target local --store``.
A benchmark runs as ``python benchmarks/bench_x.py``: its folder is on ``sys.path``, so
``from _common import ...`` finds this module, which puts the repository there too.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
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


def median_and_runs(seconds: Sequence[float]) -> str:
    """``median 1.23 s (1.20, 1.23, 1.31)``: the median, then every run, so noise shows."""
    runs = ", ".join(f"{s:.2f}" for s in seconds)
    return f"median {statistics.median(seconds):.2f} s ({runs})"


@contextlib.contextmanager
def scratch_folder(prefix: str = "moonpipe-bench-") -> Iterator[Path]:
    """A temporary folder for a round's stores, removed when the round ends.

    A run's report is written by a detached, low-priority follower that may still be
    writing its last page when the CLI has exited; removing the folder under it fails
    ("Directory not empty"), so the removal is retried for up to a minute.
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        _remove_when_quiet(folder, timeout_s=60.0)


def _remove_when_quiet(folder: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            shutil.rmtree(folder)
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
