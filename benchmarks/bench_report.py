"""What the execution report costs (medians on this machine, fresh processes).

In one store with one real run:
  report-warm:  run_pipeline.py --report ID, the decision-boundary grid already kept
  report-cold:  the same after deleting the kept grid (the model scored again: torch import)
  rerun+report: run_pipeline.py --start --param HiddenDim=N (what a person runs)
  rerun-bare:   the same with the report writer stubbed out, so the difference is the cost
                the report adds to a run (it is rewritten after every step)
The endpoint the runs start is deleted at the end and the store's warm host stopped.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from _common import let_go, median_and_runs, timed_cli

ROUNDS = 3
BARE = """
import sys
import pipeline.report.background as background
background.BackgroundKeeper.follow = background.DeferredKeeper.follow  # the run draws no page
import run_pipeline
sys.exit(run_pipeline.main(sys.argv[1:]))
"""


def timed(store: Path, *flags: str, bare: bool = False) -> tuple[float, dict]:
    """Wall seconds and --json output of one CLI call in a fresh process."""
    return timed_cli(store, *flags, code=BARE if bare else None)


def main() -> None:
    """Print the median of each scenario."""
    walls: dict[str, list[float]] = {
        k: [] for k in ("report-warm", "report-cold", "rerun+report", "rerun-bare")
    }
    with tempfile.TemporaryDirectory(prefix="moonpipe-bench-") as tmp:
        store = Path(tmp) / "store"
        _, first = timed(store, "--upsert", "--start", "--wait")
        grid = store / "executions" / first["execution_id"] / "report-boundary.json"
        try:
            for i in range(ROUNDS):
                walls["report-warm"].append(timed(store, "--report", first["execution_id"])[0])
                grid.unlink()
                walls["report-cold"].append(timed(store, "--report", first["execution_id"])[0])
                hidden = f"HiddenDim={21 + 2 * i}"
                walls["rerun+report"].append(timed(store, "--start", "--param", hidden)[0])
                walls["rerun-bare"].append(
                    timed(store, "--start", "--param", f"HiddenDim={22 + 2 * i}", bare=True)[0]
                )
        finally:
            timed(store, "--delete-endpoint", first["endpoint"]["name"])
            let_go(store)  # stops the warm host, waits for the report writers
    for name, values in walls.items():
        print(f"{name:<13} {median_and_runs(values)}")
    added = statistics.median(walls["rerun+report"]) - statistics.median(walls["rerun-bare"])
    print(f"the report adds {added:.2f} s to a rerun (median difference)")


if __name__ == "__main__":
    main()
