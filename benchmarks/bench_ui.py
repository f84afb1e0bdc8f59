"""The Studio's goals (issue 19): UI start to first page, and the executions page answered
with 1,000 executions in the store. Medians of N runs.

    python benchmarks/bench_ui.py STORE [N]

STORE holds the pipeline and at least one execution (e.g. after ``make run``: .moonpipe);
it is copied and filled up to 1,000 executions (copies of its newest), never changed.
Each round starts the UI twice: once with nothing listed before (no listing.json: the
first start after runs, or on a copied store) and once with the listing kept by the last.
"""

from __future__ import annotations

import json
import secrets
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WANTED = 1000


def filled_copy(store: Path, into: Path) -> Path:
    copy = into / "store"
    shutil.copytree(store, copy, ignore=shutil.ignore_patterns("*.sock", "warm", "endpoints"))
    runs = sorted((copy / "executions").glob("*/execution.json"))
    source = next(r.parent for r in runs if (r.parent / "steps").is_dir())
    alphabet = string.ascii_lowercase + string.digits
    for _ in range(WANTED - len(runs)):
        new = "".join(secrets.choice(alphabet) for _ in range(12))
        shutil.copytree(source / "steps", copy / "executions" / new / "steps")
        record = json.loads((source / "execution.json").read_text())
        record.pop("runner", None)
        record["execution_id"] = new
        record["execution_arn"] = record["execution_arn"].rsplit("/", 1)[0] + "/" + new
        (copy / "executions" / new / "execution.json").write_text(json.dumps(record))
    return copy


def get(url: str, token: str) -> float:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
    return time.perf_counter() - started


def one_start(store: Path) -> tuple[float, float, subprocess.Popen[str], str, str]:
    """(s to the URL line, s to the first page) and the running server."""
    argv = [sys.executable, "run_pipeline.py", "--target", "local", "--store", str(store), "--ui"]
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    printed = time.perf_counter() - started
    base, token = url.split("/?token=")
    get(base + "/", token)
    return printed, time.perf_counter() - started, process, base, token


def main(argv: list[str]) -> int:
    store, runs = Path(argv[0]), int(argv[1]) if len(argv) > 1 else 5
    with tempfile.TemporaryDirectory() as folder:
        big = filled_copy(store, Path(folder))
        starts: dict[bool, list[float]] = {True: [], False: []}
        pages = []
        for _ in range(runs):
            for cold in (True, False):
                if cold:  # as after runs nothing has listed yet (or a store copied elsewhere)
                    (big / "listing.json").unlink(missing_ok=True)
                _, first, process, base, token = one_start(big)
                starts[cold].append(first)
                pages += [get(base + "/", token) for _ in range(5)]
                process.terminate()
                process.wait(20)
    for cold, words in ((False, "kept listing"), (True, "nothing listed before")):
        median = statistics.median(starts[cold])
        print(f"UI start to first page, {WANTED} executions, {words}: median {median:.3f} s")
    print(f"executions page, {WANTED} executions: median {statistics.median(pages) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
