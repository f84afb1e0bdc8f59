"""How long ending a local execution takes: --stop from another process, and a SIGTERM.

Usage: .venv/bin/python benchmarks/bench_stop.py [--repeats 5]

Each repeat starts ``run_pipeline.py --start --wait`` on a tiny definition whose training
job sleeps, waits until the job runs, then ends it. Printed medians:
- ``--stop`` wall time: the whole ``run_pipeline.py --stop ID`` process (Python start-up,
  signalling the runner, the runner stopping its job and recording Stopped);
- SIGTERM to exit: from the signal until the runner process has exited, records written.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.targets.local import LocalTarget  # noqa: E402
from tests.cli_runner import local_cli_command  # noqa: E402
from tests.pipeline.local.slow_defs import running_job, slow_pipeline  # noqa: E402


def running_execution(store: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A runner whose training job is sleeping, and its execution id."""
    proc = subprocess.Popen(
        local_cli_command(store, "--start", "--wait"),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        return proc, running_job(store)[0]
    except AssertionError:
        proc.kill()
        raise SystemExit("the training job never started") from None


def one_stop(root: Path) -> float:
    proc, execution_id = running_execution(root)
    start = time.perf_counter()
    subprocess.run(
        local_cli_command(root, "--stop", execution_id),
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    took = time.perf_counter() - start
    proc.wait(timeout=60)
    return took


def one_sigterm(root: Path) -> float:
    proc, _ = running_execution(root)
    start = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    stops, terms = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            for kind, samples, fn in (("stop", stops, one_stop), ("term", terms, one_sigterm)):
                root = Path(tmp) / f"{kind}{i}"
                LocalTarget(root).upsert_pipeline(slow_pipeline("bench"), None)
                samples.append(fn(root))
    print(
        f"--stop (whole CLI process, runner stopped): median "
        f"{statistics.median(stops) * 1000:.0f} ms over {args.repeats}"
    )
    print(
        f"SIGTERM to runner exit (records written):   median "
        f"{statistics.median(terms) * 1000:.0f} ms over {args.repeats}"
    )


if __name__ == "__main__":
    main()
