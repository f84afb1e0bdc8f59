"""Benchmark train.py: the default run and two large runs, medians over several processes.

Each run is a fresh ``python train.py`` process laid out as the sagemaker-training toolkit
does it (cwd = the code folder, SM_* environment), so the numbers include nothing the real
job would not do. Two times per run are reported separately:

- ``loop``: the epoch loop alone, as train.py prints it (``training_seconds=``), and its CPU
  time (``training_cpu_seconds=``; "n/a" for code that does not print it): with other work
  on the machine the wall time grows, the CPU time much less;
- ``process``: the wall time of the whole process, including the import of torch (about
  3 s here; train.py's own optim.py keeps torch.optim from adding ~3 s of torch._dynamo).

Rows: the shipped defaults (450 points x 100 epochs), 100,000 points x 10 epochs, and
1,000,000 points x 10 epochs (issue 12's goal: loop <= 30 s). Each row also prints the loop's
cost per minibatch step, the number that shows Python overhead against arithmetic.
``--code DIR`` times another copy of entrypoints/ (e.g. an old checkout) with the same
harness, so before and after are measured alike.

Usage::

    .venv/bin/python benchmarks/bench_train.py [--default-runs 5] [--large-runs 3]
        [--large-points 100000] [--huge-points 1000000] [--epochs 10] [--code DIR]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENTRYPOINTS = Path(__file__).resolve().parents[1] / "entrypoints"
BATCH = 128  # train.py's default --batch_size
LOOP_TIME = re.compile(r"^training_seconds=([0-9.]+)$", re.MULTILINE)
LOOP_CPU = re.compile(r"^training_cpu_seconds=([0-9.]+)$", re.MULTILINE)


def prepare_data(root: Path, num_points: int, test_size: float) -> Path:
    """Run preprocess.py and return the folder holding train.csv."""
    command = [
        sys.executable,
        str(ENTRYPOINTS / "preprocess.py"),
        "--num-points",
        str(num_points),
        "--test-size",
        str(test_size),
        "--train-dir",
        str(root / "train"),
        "--test-dir",
        str(root / "test"),
        "--failure-file",
        str(root / "message"),
    ]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return root / "train"


def time_training(
    root: Path, channel: Path, arguments: list[str], source: Path
) -> tuple[float, float, float | None]:
    """One training process of the scripts in ``source``: (loop s, process wall s, loop CPU s)."""
    code = root / "code"
    code.mkdir(parents=True, exist_ok=True)
    for script in source.glob("*.py"):  # what sourcedir.tar.gz ships: every top-level script
        shutil.copyfile(script, code / script.name)
    env = {
        **os.environ,
        "SM_CHANNEL_TRAIN": str(channel),
        "SM_MODEL_DIR": str(root / "model"),
        "SM_OUTPUT_DATA_DIR": str(root / "output" / "data"),
    }
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "train.py", *arguments],
        cwd=code,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    match = LOOP_TIME.search(result.stdout)
    if result.returncode != 0 or match is None:
        raise SystemExit(f"bench_train.py: training failed: {result.stderr.strip()}")
    cpu = LOOP_CPU.search(result.stdout)
    return float(match.group(1)), wall, float(cpu.group(1)) if cpu else None


def bench(
    label: str, channel: Path, arguments: list[str], runs: int, source: Path, steps: int
) -> None:
    """Run ``runs`` trainings and print the medians (and the spread) of both times."""
    loops, walls, cpus = [], [], []
    for run in range(runs):
        with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
            loop, wall, cpu = time_training(Path(tmp), channel, arguments, source)
        loops.append(loop)
        walls.append(wall)
        cpus.append(cpu)
        print(
            f"  {label} run {run + 1}: loop {loop:.3f} s (CPU {_seconds(cpu)}), "
            f"process {wall:.3f} s",
            flush=True,
        )
    cpu = statistics.median(cpus) if None not in cpus else None
    print(
        f"{label}: median loop {statistics.median(loops):.3f} s "
        f"(min {min(loops):.3f}, max {max(loops):.3f}; CPU {_seconds(cpu)}); median process "
        f"{statistics.median(walls):.3f} s over {runs} runs; "
        f"{statistics.median(loops) / steps * 1e6:.0f} us per {BATCH}-row step",
        flush=True,
    )


def _seconds(value: float | None) -> str:
    """A time for the table, or n/a when the code under test did not report it."""
    return "n/a" if value is None else f"{value:.3f} s"


def steps_of(points: int, epochs: int) -> int:
    """Minibatch steps of a run: what the loop's time is spread over."""
    return epochs * math.ceil(points / BATCH)


def machine_info() -> str:
    """Cores, load and library versions, so numbers can be compared across machines."""
    import torch

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    return (
        f"machine: {platform.machine()} {platform.system()}, cores {os.cpu_count()} "
        f"(usable {usable}), load average {load}; python {platform.python_version()}, "
        f"torch {torch.__version__}, torch threads in train.py: 1 (--num_threads)"
    )


def main() -> int:
    """Parse options, prepare the data sets, run the benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--default-runs", type=int, default=5)
    parser.add_argument("--large-runs", type=int, default=3, help="runs of each large row")
    parser.add_argument(
        "--large-points",
        type=int,
        default=100_000,
        help="training points of the first large row (0: skip it)",
    )
    parser.add_argument(
        "--huge-points",
        type=int,
        default=1_000_000,
        help="training points of the second large row (0: skip it)",
    )
    parser.add_argument("--epochs", type=int, default=10, help="epochs of the large rows")
    parser.add_argument(
        "--code",
        type=Path,
        default=ENTRYPOINTS,
        help="folder holding train.py, network.py, optim.py, inference.py",
    )
    args = parser.parse_args()
    print(machine_info(), f"code: {args.code}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
        course = prepare_data(Path(tmp) / "course", 600, 0.25)
        if args.default_runs:
            bench(
                "default (450 points x 100 epochs)",
                course,
                [],
                args.default_runs,
                args.code,
                steps_of(450, 100),
            )
        for points in (args.large_points, args.huge_points):
            if points and args.large_runs:
                # test size 0.2 of points/0.8 leaves exactly `points` for training
                data = prepare_data(Path(tmp) / f"large-{points}", round(points / 0.8), 0.2)
                bench(
                    f"large ({points} points x {args.epochs} epochs)",
                    data,
                    ["--epochs", str(args.epochs)],
                    args.large_runs,
                    args.code,
                    steps_of(points, args.epochs),
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
