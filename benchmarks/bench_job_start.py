"""Job start overhead: a fresh python per job (subprocess) versus a fork of the warm host,
each in the job's own namespaces (what a run does where Linux allows) and with paths mapped
(the fallback).

Each job is the engine's own run_job with a clean job environment, exactly as a step runs
it. Three scripts: ``empty`` (the interpreter alone), ``torch`` (numpy, pandas and torch: a
PyTorch image's job, forked from the host) and ``sklearn`` (numpy, pandas and scikit-learn:
a scikit-learn image's job, forked from the host's lane). The difference
between a step's duration and this overhead is the script's own time. Prints medians
(goal: warm per-job start <= 0.2 s with the namespace).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline.local.handlers.jobs import JobCommand, run_job  # noqa: E402
from pipeline.local.runtime.hosts import Host  # noqa: E402
from pipeline.local.runtime.mode import JobRuntime, namespaces_unavailable  # noqa: E402
from pipeline.local.warm.client import WarmStarter  # noqa: E402

ROUNDS = 7
GOAL_S = 0.2
# Each script with the image it runs in: a PyTorch image's job forks from the host (torch),
# a scikit-learn image's from the host's lane (scikit-learn, no torch).
PYTORCH = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.6.0-cpu-py312"
SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
SCRIPTS = {
    "empty": ("pass\n", PYTORCH),
    "torch": ("import numpy, pandas, torch\n", PYTORCH),
    "sklearn": (
        "import numpy, pandas\n"
        "from sklearn.datasets import make_moons\n"
        "from sklearn.model_selection import train_test_split\n",
        SKLEARN,
    ),
}


def time_jobs(
    root: Path,
    script: Path,
    starter: WarmStarter | None,
    namespaces: bool | None = None,
    image: str = PYTORCH,
) -> list[float]:
    """Wall time of ROUNDS jobs running ``script`` (each in its own job folder), in the
    job's namespaces or with paths mapped (None: as a run here would)."""
    walls = []
    if namespaces is None:
        namespaces = namespaces_unavailable() is None
    runtime = JobRuntime(root / "store", starter, namespaces)
    for n in range(ROUNDS):
        kind = f"{'warm' if starter else 'cold'}-{'ns' if namespaces else 'paths'}"
        job = root / f"{script.stem}-{kind}-{n}"
        (job / "code").mkdir(parents=True, exist_ok=True)
        (job / "code" / script.name).write_bytes(script.read_bytes())
        command = JobCommand([sys.executable, f"/opt/ml/code/{script.name}"], {}, "/opt/ml", image)
        started = time.perf_counter()
        run = run_job([(Host("algo-1", job), command)], job / "log", runtime)
        walls.append(time.perf_counter() - started)
        if run.exit_code != 0:
            raise SystemExit(f"{script.name} failed: {run.tail}")
    return walls


def main() -> int:
    """Print the median start overhead per script, cold and warm."""
    with tempfile.TemporaryDirectory(prefix="moonpipe-bench-") as tmp:
        root = Path(tmp)
        starter = WarmStarter(root / "store", idle_s=120)
        started = time.perf_counter()
        starter.ensure()
        try:
            print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, {ROUNDS} jobs")
            modes = [False] if namespaces_unavailable() else [True, False]
            for name, (text, image) in SCRIPTS.items():
                script = root / f"job_{name}.py"  # (not torch.py: it would import itself)
                script.write_text(text)
                if name == "empty":  # the host's own imports, paid once per store
                    time_jobs(root / "first", script, starter, False)
                    print(
                        f"warm host ready after {time.perf_counter() - started:.2f} s (its imports)"
                    )
                for namespaces in modes:
                    for label, chosen in (("subprocess", None), ("warm", starter)):
                        walls = time_jobs(root / name, script, chosen, namespaces, image)
                        median = statistics.median(walls)
                        verdict = ""
                        if label == "warm" and namespaces:
                            verdict = " — meets" if median <= GOAL_S else " — misses"
                            verdict += f" the {GOAL_S} s goal"
                        kind = "namespace" if namespaces else "paths"
                        print(f"  {name:<8} {label:<10} {kind:<9} median {median:6.3f} s{verdict}")
        finally:
            starter.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
