"""The Studio's live goal (issue 19): a status change visible in the browser <= 1 s after
the store records it. Medians and maxima over N runs.

    python benchmarks/bench_ui_live.py STORE [N]

STORE holds the pipeline (e.g. after ``make run``: .moonpipe); it is copied, never changed.
``--ui`` serves the copy and Chromium shows its executions page; N executions are started
from the CLI beside it, one after the other. A watcher reads the copy's execution records
every 5 ms and notes when each status first appears there; a MutationObserver in the page
notes when each row first shows it. The lag of each change is the difference (one clock:
the machine's).
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# a run of a few seconds (a new Epochs each time: no cache hits), its Executing long enough
START = [sys.executable, "run_pipeline.py", "--start", "--wait", "--param", "Deploy=false"]
sys.path.insert(0, str(REPO))

from tests.pipeline.ui.conftest import CHROMIUM_FLAGS  # noqa: E402

OBSERVER = """() => {
  window.__seen = {};
  const note = (row) => {
    const key = row.dataset.executionId + " " + row.dataset.status;
    if (row.dataset.executionId && !(key in window.__seen)) window.__seen[key] = Date.now() / 1000;
  };
  new MutationObserver((changes) => {
    for (const change of changes) {
      for (const node of change.addedNodes) {
        if (node.nodeType === 1) node.querySelectorAll("[data-execution-id]").forEach(note);
        if (node.nodeType === 1 && node.dataset.executionId) note(node);
      }
      if (change.type === "attributes" && change.target.dataset.executionId) note(change.target);
    }
  }).observe(document.body, { subtree: true, childList: true, attributes: true,
                              attributeFilter: ["data-status"] });
}"""


def watch_store(store: Path, seen: dict[str, float], stop: threading.Event) -> None:
    """Note the first moment each (execution, status) is in the store's records."""
    while not stop.is_set():
        for record in (store / "executions").glob("*/execution.json"):
            try:
                data = json.loads(record.read_text())
            except (OSError, ValueError):
                continue  # (replaced while read)
            key = f"{record.parent.name} {data.get('status')}"
            seen.setdefault(key, time.time())
        time.sleep(0.005)


def main(argv: list[str]) -> int:
    from playwright.sync_api import sync_playwright

    store, runs = Path(argv[0]), int(argv[1]) if len(argv) > 1 else 5
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    # (ignore_cleanup_errors: a report follower may still be writing a last page)
    with (
        tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as folder,
        sync_playwright() as playwright,
    ):
        copy = Path(folder) / "store"
        shutil.copytree(store, copy, ignore=shutil.ignore_patterns("*.sock", "warm", "endpoints"))
        argv_ui = [sys.executable, "run_pipeline.py", "--store", str(copy), "--ui"]
        ui = subprocess.Popen(argv_ui, cwd=REPO, stdout=subprocess.PIPE, text=True)
        assert ui.stdout is not None
        url = ui.stdout.readline().strip()
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.goto(url)
        page.evaluate(OBSERVER)
        before = {p.name for p in (copy / "executions").iterdir()}
        in_store: dict[str, float] = {}
        stop = threading.Event()
        watcher = threading.Thread(target=watch_store, args=(copy, in_store, stop), daemon=True)
        watcher.start()
        for run in range(runs):
            subprocess.run(
                [*START, "--store", str(copy), "--param", f"Epochs={2000 + run}"],
                cwd=REPO,
                capture_output=True,
                check=True,
            )
            time.sleep(1.5)  # the last change reaches the page
        in_page: dict[str, Any] = page.evaluate("window.__seen")
        stop.set()
        browser.close()
        ui.terminate()
        ui.wait(20)
        stop_host = [sys.executable, "run_pipeline.py", "--store", str(copy), "--stop-host"]
        subprocess.run(stop_host, cwd=REPO, capture_output=True, check=False)
    started = {k: t for k, t in in_store.items() if k.split()[0] not in before}
    lags = {k: in_page[k] - t for k, t in started.items() if k in in_page}
    missed = sorted(k for k in started if k not in in_page)
    by_status: dict[str, list[float]] = {}
    for key, lag in lags.items():
        by_status.setdefault(key.split()[1], []).append(lag)
    for status, values in sorted(by_status.items()):
        print(
            f"store -> browser, {status}: median {statistics.median(values):.3f} s, "
            f"max {max(values):.3f} s ({len(values)} changes)"
        )
    for key in missed:  # how long it lasted in the store
        execution, status = key.split()
        after = [t for k, t in started.items() if k.startswith(execution) and k != key]
        lasted = min((t for t in after if t > started[key]), default=float("nan")) - started[key]
        print(f"never shown in the page: {status} of {execution}, {lasted:.3f} s in the store")
    return 0 if lags and not missed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
