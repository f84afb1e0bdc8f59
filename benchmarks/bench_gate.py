"""What the API gate adds to a local ``--start``: its first check in a fresh process, and after.

The first check loads the part of SageMaker's service model the engine reads (once per
process); the checks before each step reuse it. Each run is a fresh subprocess that times
``check_start`` on the real moonpipe definition twice (cold, then warm), and
``request_rejection`` over every step's request with the default parameters; "cold, no
store" reads botocore's whole model (a store's first run), "cold, store" the subset a store
keeps (every later ``--start``). Prints every run and the medians.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUNS = 7

PROBE = """
import json, sys, time
from pipeline.local.graph import parse_definition
from pipeline.core.parameters import resolve_parameters
plan = parse_definition(open(sys.argv[1]).read())
values = resolve_parameters([dict(p) for p in plan.parameters], {})
variables = {"PipelineExecutionId": "abcdefghijkl", "PipelineName": "moonpipe",
             "PipelineArn": "arn:p", "PipelineExecutionArn": "arn:p/execution/abcdefghijkl",
             "StartDateTime": "2026-01-01T00:00:00", "CurrentDateTime": "2026-01-01T00:00:00"}
started = time.perf_counter()
from pipeline.local.api_gate import cache_service_model_in, check_start, request_rejection
if len(sys.argv) > 2:
    from pathlib import Path
    cache_service_model_in(Path(sys.argv[2]))
check_start(plan, values, {}, variables)
cold = time.perf_counter() - started
started = time.perf_counter()
check_start(plan, values, {}, variables)
warm = time.perf_counter() - started
from pipeline.local.expressions import Scope, resolve
scope = Scope(parameters=values, execution=variables, defer_steps=True)
started = time.perf_counter()
for spec in plan.steps:
    request_rejection(spec, resolve(dict(spec.arguments), scope), "abcdefghijkl")
steps = time.perf_counter() - started
print(json.dumps({"cold": cold, "warm": warm, "steps": steps}))
"""


def definition_file() -> Path:
    """The real definition, built once by ``run_pipeline.py --definition``."""
    handle, name = tempfile.mkstemp(prefix="moonpipe-bench-", suffix=".json")
    os.close(handle)
    path = Path(name)
    built = subprocess.run(
        [sys.executable, str(REPO / "run_pipeline.py"), "--definition"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    path.write_text(built.stdout)
    return path


def time_once(definition: Path, cache: Path | None = None) -> dict[str, float]:
    """One fresh process's timings in seconds (``cache``: the store's model folder)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(definition), *([str(cache)] if cache else [])],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout)


def main() -> int:
    """Print every run and the medians."""
    definition = definition_file()
    with tempfile.TemporaryDirectory(prefix="moonpipe-bench-gate-") as cache:
        try:
            time_once(definition, Path(cache))  # writes the store's subset
            runs = [time_once(definition) for _ in range(RUNS)]
            stored = [time_once(definition, Path(cache)) for _ in range(RUNS)]
        finally:
            definition.unlink()
    for run, again in zip(runs, stored, strict=True):
        run["stored"] = again["cold"]
    for key, label in (
        ("cold", "first check_start in a fresh process, no store (imports + whole model)"),
        ("stored", "first check_start in a fresh process, store (imports + its model)"),
        ("warm", "check_start again (model loaded)"),
        ("steps", "request_rejection for all 8 steps (model loaded)"),
    ):
        values = [r[key] * 1000 for r in runs]
        print(
            f"{label}: median {statistics.median(values):.1f} ms "
            f"({', '.join(f'{v:.0f}' for v in values)})"
        )
    print(f"{RUNS} runs on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
