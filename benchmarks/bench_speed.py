"""Issue 22's goals: the local run's wall times as ratios to the import floor of the same run.

The floor is a fresh interpreter importing torch, pandas and sklearn.metrics (what a cold
pipeline run pays before any work), timed right beside every measured command, so the ratio
stays put when the machine is busy. Each round uses a fresh store:

  fresh:      --upsert --start --wait on an empty store            (goal <= 0.8x)
  again:      the same command again, nothing changed ("make run" twice; goal <= 0.35x)
  definition: --definition, nothing changed since the last build   (goal <= 0.15x)
  rerun:      --start --param HiddenDim=40                          (goal <= 0.2x)
  first:      fresh, with an empty build cache: a new clone's first run pays the SDK build
              (no goal; shown so "fresh" is not read as more than it is)

The definition is built once before the rounds, so "fresh" finds this checkout's build
(pipeline/assembly/build_cache.py: the cache is the checkout's, shared by its stores);
"first" points MOONPIPE_BUILD_CACHE at an empty folder instead. Every command is a fresh
process with --json, as in bench_local_run.py, run with bytecode caching on as a person's
python has it (a PYTHONDONTWRITEBYTECODE in the environment is dropped); the store's warm
host and endpoint are stopped between rounds.
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

GOALS = {"fresh": 0.8, "again": 0.35, "definition": 0.15, "rerun": 0.2, "first": None}
SCENARIOS = {
    "fresh": ("--upsert", "--start", "--wait"),
    "again": ("--upsert", "--start", "--wait"),
    "rerun": ("--start", "--param", "HiddenDim=40"),
    "first": ("--upsert", "--start", "--wait"),
}
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def time_definition(store: Path) -> float:
    """One ``--definition`` process (it prints JSON, not a summary)."""
    started = time.perf_counter()
    subprocess.run(
        local_cli_command(store, "--definition"),
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
        env=ENV,
    )
    return time.perf_counter() - started


def one_round(walls: dict[str, list[float]], floors: dict[str, list[float]]) -> None:
    """Every scenario once, in order, each beside a fresh floor: the first four on one new
    store, "first" on another with an empty build cache."""
    with tempfile.TemporaryDirectory(prefix="moonpipe-bench-") as tmp:
        stores = {"first": Path(tmp) / "first"}
        try:
            for scenario in ("fresh", "again", "definition", "rerun", "first"):
                store = stores.setdefault(scenario, Path(tmp) / "store")
                empty = {**ENV, "MOONPIPE_BUILD_CACHE": str(Path(tmp) / "build-cache")}
                env = empty if scenario == "first" else ENV
                floors[scenario].append(import_floor())
                if scenario == "definition":
                    walls[scenario].append(time_definition(store))
                    continue
                wall, summary = timed_cli(store, *SCENARIOS[scenario], env=env)
                if summary["status"] != "Succeeded":
                    raise SystemExit(f"{scenario} ended {summary['status']}")
                walls[scenario].append(wall)
                if scenario in ("rerun", "first"):  # the next scenario starts on quiet cores
                    quiet_cli(store, "--delete-endpoint", "moonpipe-endpoint", env=ENV)
                    let_go(store)
        finally:
            for store in {*stores.values()}:
                quiet_cli(store, "--delete-endpoint", "moonpipe-endpoint", env=ENV)
                let_go(store)


def main(argv: list[str] | None = None) -> int:
    """Print the floor, then each scenario's ratio against its goal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rounds", nargs="?", type=int, default=3)
    args = parser.parse_args(argv)
    walls: dict[str, list[float]] = defaultdict(list)
    floors: dict[str, list[float]] = defaultdict(list)
    load = os.getloadavg()[0]
    subprocess.run(  # the checkout's build, as any earlier run leaves it (and .pyc files)
        [sys.executable, "run_pipeline.py", "--definition"],
        cwd=REPO,
        env=ENV,
        check=True,
        stdout=subprocess.DEVNULL,
    )
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
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
