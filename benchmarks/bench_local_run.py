"""End-to-end wall time of the local target, as a person runs it (goals: 8 s and 2.5 s).

Two scenarios, each in fresh processes and a fresh store per round:
  fresh:  run_pipeline.py --upsert --start --wait        (empty store; goal <= 8 s)
  rerun:  run_pipeline.py --start --param HiddenDim=40   (stored definition, cached data,
                                                           live endpoint swapped; goal <= 2.5 s)
Jobs start as ``--job-start`` says (warm: forked from the store's warm host, the default;
subprocess: a fresh python per job). Prints the median wall time of each and, per job step,
its median duration split into job start overhead (measured beside it by
bench_job_start.py's method: a job that only imports numpy, pandas and torch) and the
script's own time, so the floor stays visible. Every endpoint and warm host a round starts
is stopped before the next one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from _common import REPO, let_go, median_and_runs, quiet_cli, timed_cli

ROUNDS = 3
GOALS_S = {"fresh": 8.0, "rerun": 2.5}
JOB_STEPS = ("PrepareMoonData", "TrainMoonClassifier", "EvaluateMoonClassifier")
ENV = dict(os.environ)


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
                walls[scenario], summary = timed_cli(store, *flags, env=ENV)
                if summary["status"] != "Succeeded":
                    raise SystemExit(f"{scenario} run ended {summary['status']}")
                for step in summary["steps"]:
                    label = step["name"] + (" (cache hit)" if step["cache_hit"] else "")
                    steps[scenario][label].append(step["duration_s"] or 0.0)
        finally:
            quiet_cli(store, "--delete-endpoint", "moonpipe-endpoint", env=ENV)
            let_go(store)  # stops the warm host, waits for the report writers
    return walls


def start_overhead(job_start: str) -> float:
    """Median start overhead of one job in this mode (bench_job_start.py's 'torch' job: what
    a PyTorch image's job, training or evaluation, imports)."""
    sys.path[:0] = [str(REPO / "benchmarks"), str(REPO)]
    from bench_job_start import SCRIPTS, time_jobs

    from pipeline.local.warm.client import WarmStarter

    with tempfile.TemporaryDirectory(prefix="moonpipe-bench-") as tmp:
        text, image = SCRIPTS["torch"]
        script = Path(tmp) / "job_torch.py"
        script.write_text(text)
        starter = WarmStarter(Path(tmp) / "store", idle_s=60) if job_start == "warm" else None
        try:
            if starter is not None:
                time_jobs(Path(tmp), script, starter, image=image)  # the host's imports, once
            return statistics.median(time_jobs(Path(tmp), script, starter, image=image))
        finally:
            if starter is not None:
                starter.stop()


def main(argv: list[str] | None = None) -> int:
    """Print per-round walls, medians against the goals, and median step durations."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job-start", choices=("warm", "subprocess"), default="warm")
    args = parser.parse_args(argv)
    ENV["MOONPIPE_JOB_START"] = args.job_start
    steps: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    walls: dict[str, list[float]] = defaultdict(list)
    load = os.getloadavg()[0]
    for _ in range(ROUNDS):
        for scenario, wall in one_round(steps).items():
            walls[scenario].append(wall)
    overhead = start_overhead(args.job_start)
    print(
        f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}, {ROUNDS} rounds, "
        f"jobs: {args.job_start}, load average {load:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after; job start overhead {overhead:.3f} s"
    )
    for scenario, times in walls.items():
        verdict = "meets" if statistics.median(times) <= GOALS_S[scenario] else "misses"
        print(f"{scenario}: {median_and_runs(times)} — {verdict} the {GOALS_S[scenario]:g} s goal")
        for label, durations in steps[scenario].items():
            median = statistics.median(durations)
            split = ""
            if label in JOB_STEPS:
                split = f"  (start overhead {overhead:.2f} s, script ~{median - overhead:.2f} s)"
            print(f"    {label:<40} {median:6.2f} s{split}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
