"""The end-to-end tests again, in the fallback (jobs with paths mapped, no namespaces).

The suite's own run uses namespaces wherever the machine has them (as users' runs do);
this runs every other end-to-end test once more in a fresh pytest with
``MOONPIPE_JOB_ISOLATION=paths``, so moonpipe's pipeline, reruns, sweeps and the gate hold
both ways (docs/isolation.md says what the fallback gives up).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.local.runtime.mode import ISOLATION_VARIABLE
from tests.cli_runner import REPO, run_local_cli

pytestmark = pytest.mark.e2e

NOT_AGAIN = (
    "tests/test_fallback_end_to_end.py",
    "tests/pipeline/local/runtime/test_as_another_user.py",
)


def test_a_run_in_the_fallback_says_so_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ISOLATION_VARIABLE, "paths")
    done = run_local_cli(tmp_path / "store", "--upsert", "--start", "--wait", "--json")
    assert done.returncode == 0, done.stderr
    notes = json.loads(done.stdout)["notes"]
    fallback = [n for n in notes if n.startswith("jobs run without namespaces of their own")]
    assert fallback == [
        f"jobs run without namespaces of their own ({ISOLATION_VARIABLE}=paths): /opt/ml is "
        "mapped onto the job's folder only where the definition names it, so hard-coded "
        "/opt/ml paths, FrameworkProcessor's runproc.sh and the SDK's repack step fail, and "
        "network isolation, the read-only host, a private /tmp and the stopping of a job's "
        "child processes are not emulated (docs/isolation.md)"
    ]
    run_local_cli(
        tmp_path / "store", "--delete-endpoint", json.loads(done.stdout)["endpoint"]["name"]
    )


def test_every_end_to_end_test_passes_in_the_fallback(tmp_path: Path) -> None:
    env = {**os.environ, ISOLATION_VARIABLE: "paths"}
    argv = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m",
        "e2e and not browser", "--basetemp", str(tmp_path / "e2e"), "tests",
        *(f"--deselect={path}" for path in NOT_AGAIN),
    ]  # fmt: skip
    done = subprocess.run(
        argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=3000, check=False
    )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary, summary
