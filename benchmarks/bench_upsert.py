"""Wall time of `--upsert` on the local target: first, unchanged again, and 6 at once.

Each run is a fresh `python run_pipeline.py --upsert` process (SDK import and build
included, as a person waits for it) on a store in a temporary folder. Prints the median of
RUNS rounds for a first upsert on an empty store, a second (unchanged) upsert, and the wall
time until 6 parallel upserts on one fresh store have all finished.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUNS = 3
PARALLEL = 6


def upserts(store: Path, count: int) -> float:
    """Seconds until ``count`` concurrent upserts on ``store`` have all succeeded."""
    command = [sys.executable, str(REPO / "run_pipeline.py"), "--upsert", "--store", str(store)]
    started = time.perf_counter()
    procs = [subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL) for _ in range(count)]
    codes = [proc.wait() for proc in procs]
    elapsed = time.perf_counter() - started
    if codes != [0] * count:
        raise SystemExit(f"an upsert failed: exit codes {codes}")
    return elapsed


def one_round() -> tuple[float, float, float]:
    """(first, unchanged, parallel) seconds on fresh stores."""
    with tempfile.TemporaryDirectory(prefix="moonpipe-bench-") as scratch:
        first = upserts(Path(scratch) / "a", 1)
        again = upserts(Path(scratch) / "a", 1)
        parallel = upserts(Path(scratch) / "b", PARALLEL)
    return first, again, parallel


def main() -> int:
    """Print each round and the medians."""
    rounds = [one_round() for _ in range(RUNS)]
    labels = ("first", "unchanged", f"{PARALLEL} parallel")
    for index, label in enumerate(labels):
        values = [r[index] for r in rounds]
        runs = ", ".join(f"{v:.2f}" for v in values)
        print(f"--upsert {label}: {runs} s; median {statistics.median(values):.2f} s")
    print(f"{RUNS} rounds on {os.cpu_count()} cores (shared machine: noisy)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
