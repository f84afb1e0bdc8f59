"""Issue 22's goals: the local run's wall times as ratios to the import floor of the same run.

The floor is a fresh interpreter importing torch, pandas and sklearn.metrics (what a cold
pipeline run pays before any work), timed right beside every measured command, so the ratio
stays put when the machine is busy. Each round uses a fresh store:

  fresh:      --upsert --start --wait on an empty store            (goal <= 0.8x)
  again:      the same command again, nothing changed ("make run" twice; goal <= 0.35x)
  definition: --definition, nothing changed since the last build   (goal <= 0.15x)
  rerun:      --start --param HiddenDim=40                          (goal <= 0.2x)

Every command is a fresh process with --json, as in bench_local_run.py; the store's warm host
and endpoint are stopped between rounds.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from _common import REPO, import_floor, let_go, quiet_cli, ratio_line, timed_cli

from tests.cli_runner import local_cli_command

GOALS = {"fresh": 0.8, "again": 0.35, "definition": 0.15, "rerun": 0.2}
SCENARIOS = {
    "fresh": ("--upsert", "--start", "--wait"),
    "again": ("--upsert", "--start", "--wait"),
    "rerun": ("--start", "--param", "HiddenDim=40"),
}


def time_definition(store: Path) -> float:
    """One ``--definition`` process (it prints JSON, not a summary)."""
    started = time.perf_counter()
    subprocess.run(
        local_cli_command(store, "--definition"),
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def one_round(walls: dict[str, list[float]], floors: dict[str, list[float]]) -> None:
    """Every scenario once, in order, on a new store, each beside a fresh floor."""
    with tempfile.TemporaryDirectory(prefix="moonpipe-bench-") as tmp:
        store = Path(tmp) / "store"
        try:
            for scenario in ("fresh", "again", "definition", "rerun"):
                floors[scenario].append(import_floor())
                if scenario == "definition":
                    walls[scenario].append(time_definition(store))
                    continue
                wall, summary = timed_cli(store, *SCENARIOS[scenario])
                if summary["status"] != "Succeeded":
                    raise SystemExit(f"{scenario} ended {summary['status']}")
                walls[scenario].append(wall)
        finally:
            quiet_cli(store, "--delete-endpoint", "moonpipe-endpoint")
            let_go(store)


def main(argv: list[str] | None = None) -> int:
    """Print the floor, then each scenario's ratio against its goal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rounds", nargs="?", type=int, default=3)
    args = parser.parse_args(argv)
    walls: dict[str, list[float]] = defaultdict(list)
    floors: dict[str, list[float]] = defaultdict(list)
    load = os.getloadavg()[0]
    for _ in range(args.rounds):
        one_round(walls, floors)
    every_floor = sorted(f for runs in floors.values() for f in runs)
    print(
        f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}, {args.rounds} "
        f"rounds, load average {load:.2f} before, {os.getloadavg()[0]:.2f} after; import "
        f"floor median {every_floor[len(every_floor) // 2]:.2f} s"
    )
    for scenario, goal in GOALS.items():
        print(ratio_line(scenario, walls[scenario], floors[scenario], goal))
    return 0


if __name__ == "__main__":
    sys.exit(main())
