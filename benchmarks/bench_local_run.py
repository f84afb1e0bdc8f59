"""End-to-end wall time of the local target, as a person runs it (goals: 20 s and 8 s).

Two scenarios, each in fresh processes and a fresh store per round:
  fresh:  run_pipeline.py --upsert --start --wait        (empty store; goal <= 20 s)
  rerun:  run_pipeline.py --start --param HiddenDim=40   (stored definition, cached data,
                                                           live endpoint swapped; goal <= 8 s)
Prints the median wall time of each and the median duration of every step, so the floor
(mostly Python imports: torch alone is ~2-3 s per job process) is visible. Every endpoint a
round starts is deleted before the next one.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROUNDS = 3
GOALS_S = {"fresh": 20.0, "rerun": 8.0}


def run_cli(store: Path, *flags: str) -> tuple[float, dict]:
    """Run the CLI with --json on ``store``; return (wall seconds, parsed summary)."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(REPO / "run_pipeline.py"), "--store", str(store), "--json", *flags],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(flags)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed, json.loads(proc.stdout)


def one_round(steps: dict[str, dict[str, list[float]]]) -> dict[str, float]:
    """One fresh run and one rerun in a new store; records step durations into ``steps``."""
    walls: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="moonpipe-bench-") as tmp:
        store = Path(tmp) / "store"
        try:
            for scenario, flags in (
                ("fresh", ("--upsert", "--start", "--wait")),
                ("rerun", ("--start", "--param", "HiddenDim=40")),
            ):
                walls[scenario], summary = run_cli(store, *flags)
                if summary["status"] != "Succeeded":
                    raise SystemExit(f"{scenario} run ended {summary['status']}")
                for step in summary["steps"]:
                    label = step["name"] + (" (cache hit)" if step["cache_hit"] else "")
                    steps[scenario][label].append(step["duration_s"] or 0.0)
        finally:
            subprocess.run(
                [
                    sys.executable,
                    str(REPO / "run_pipeline.py"),
                    "--store",
                    str(store),
                    "--delete-endpoint",
                    "moonpipe-endpoint",
                ],
                cwd=REPO,
                capture_output=True,
                check=False,
            )
    return walls


def main() -> int:
    """Print per-round walls, medians against the goals, and median step durations."""
    steps: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    walls: dict[str, list[float]] = defaultdict(list)
    for _ in range(ROUNDS):
        for scenario, wall in one_round(steps).items():
            walls[scenario].append(wall)
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}, {ROUNDS} rounds")
    for scenario, times in walls.items():
        median = statistics.median(times)
        verdict = "meets" if median <= GOALS_S[scenario] else "misses"
        runs = ", ".join(f"{t:.2f}" for t in times)
        print(
            f"{scenario}: median {median:.2f} s ({runs}) — {verdict} the "
            f"{GOALS_S[scenario]:.0f} s goal"
        )
        for label, durations in steps[scenario].items():
            print(f"    {label:<40} {statistics.median(durations):6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
