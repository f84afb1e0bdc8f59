"""A 4-point HiddenDim sweep on the local target vs four sequential --start runs.

Goals (issue 11): sweep wall time <= 0.6x four sequential ``--start`` runs on this 2-core
machine; ``--deploy-best`` (the best point rerun with Deploy=true, every earlier step a cache
hit) <= 3 s. Each scenario gets a fresh store with the definition upserted, so each pays
the data step once. Also measures --max-parallel 1 vs 2, which chose the local default.
Prints medians over ROUNDS (``python benchmarks/bench_sweep.py [ROUNDS]``).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from _common import let_go, timed_cli

POINTS = ("8", "16", "32", "64")


def cli(store: Path, *flags: str) -> tuple[float, dict]:
    """run_pipeline.py --json on ``store``; (wall seconds, parsed output). A sweep with a
    failed point exits 1 and is still a measurement."""
    return timed_cli(store, *flags, ok=(0, 1))


def fresh_store(tmp: str, name: str) -> Path:
    store = Path(tmp) / name
    cli(store, "--upsert")
    return store


def one_round() -> dict[str, float]:
    walls: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="moonpipe-bench-sweep-") as tmp:
        store = fresh_store(tmp, "sequential")
        try:
            walls["4 sequential --start"] = sum(
                cli(store, "--start", "--param", f"HiddenDim={h}")[0] for h in POINTS
            )
        finally:
            cli(store, "--delete-endpoint", "moonpipe-endpoint")
            let_go(store)
        sweep = ("--sweep", "HiddenDim=" + ",".join(POINTS))
        for parallel in ("1", "2"):
            store = fresh_store(tmp, f"sweep{parallel}")
            walls[f"sweep --max-parallel {parallel}"] = cli(
                store, *sweep, "--max-parallel", parallel
            )[0]
            let_go(store, stop_host=parallel == "1")  # --deploy-best follows on sweep2
        try:
            wall, doc = cli(store, *sweep, "--deploy-best")
            deployed = doc["deployed"]
            took = datetime.fromisoformat(deployed["ended_at"]) - datetime.fromisoformat(
                deployed["started_at"]
            )
            walls["--deploy-best: the promoted execution"] = took.total_seconds()
            walls["--deploy-best after the sweep: whole command"] = wall
        finally:
            cli(store, "--delete-endpoint", "moonpipe-endpoint")
            let_go(store)
    print("  " + ", ".join(f"{k} {v:.1f} s" for k, v in walls.items()), flush=True)
    return walls


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} before")
    results: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, value in one_round().items():
            results.setdefault(name, []).append(value)
    medians = {name: statistics.median(values) for name, values in results.items()}
    for name, value in medians.items():
        print(f"{name:<48} {value:7.1f} s  (median of {rounds})")
    sequential = medians["4 sequential --start"]
    for parallel in ("1", "2"):
        ratio = medians[f"sweep --max-parallel {parallel}"] / sequential
        print(f"sweep --max-parallel {parallel} / sequential: {ratio:.2f}x (goal <= 0.6x)")
    print("--deploy-best after the sweep: goal <= 3 s")
    print(f"load average {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
