"""run_pipeline.py in a fresh process on a local store, the way a person runs it.

The end-to-end tests (and the report and interruption tests) drive the CLI through a new
interpreter, so imports, signal handling and exit codes are the real ones. They all need
the same thing: the repository as the working directory, ``--target local --store STORE``,
and an environment without AWS credentials (a local run must need none, and a developer's
own must never reach a test).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def local_cli_env(job_start: str | None = None) -> dict[str, str]:
    """This environment minus every ``AWS_*`` variable; ``job_start`` sets MOONPIPE_JOB_START.

    Without ``job_start`` the config decides, as for a person (``warm``: the warm host).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    if job_start is not None:
        env["MOONPIPE_JOB_START"] = job_start
    return env


def local_cli_command(store: Path, *flags: str, code: str | None = None) -> list[str]:
    """The argv of run_pipeline.py (or of ``python -c code`` standing in for it) on ``store``."""
    head = ["-c", code] if code else ["run_pipeline.py"]
    return [sys.executable, *head, "--target", "local", "--store", str(store), *flags]


def run_local_cli(
    store: Path,
    *flags: str,
    code: str | None = None,
    job_start: str | None = None,
    timeout: float = 300,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the CLI to its end on ``store`` (``stdin`` as its input); stdout and stderr are
    captured as text, and a non-zero exit does not raise (the tests assert the code)."""
    return subprocess.run(
        local_cli_command(store, *flags, code=code),
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        env=local_cli_env(job_start),
        check=False,
        timeout=timeout,
    )


def start_local_cli(store: Path, *flags: str, capture: bool = True) -> subprocess.Popen[str]:
    """Start the CLI on ``store`` and return at once: for tests that kill or stop the runner.

    With ``capture`` stdout and stderr are pipes (text) the caller reads with
    ``communicate`` once the process ends; without it they go to /dev/null, for a runner
    nobody reads (a pipe nobody drains could fill and stall it).
    """
    output = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen(
        local_cli_command(store, *flags),
        cwd=REPO,
        env=local_cli_env(),
        text=True,
        stdout=output,
        stderr=output,
    )


@contextlib.contextmanager
def upserted_store(root: Path, job_start: str | None = None) -> Iterator[Path]:
    """``root`` with the real definition upserted, for a module of end-to-end tests.

    On the way out every endpoint the store serves is deleted and its warm host stopped:
    a server or host left behind would outlive the test run (by design, for the next run).
    """
    upsert = run_local_cli(root, "--upsert", job_start=job_start)
    assert upsert.returncode == 0, upsert.stderr
    try:
        yield root
    finally:
        listed = run_local_cli(root, "--list-endpoints", "--json", job_start=job_start)
        for endpoint in json.loads(listed.stdout or "{}").get("endpoints", []):
            run_local_cli(root, "--delete-endpoint", endpoint["name"], job_start=job_start)
        run_local_cli(root, "--stop-host", job_start=job_start)


def started_ui(store: Path) -> tuple[subprocess.Popen[str], str]:
    """``--ui`` on ``store`` in a fresh process, and the URL (with its token) it printed
    first; the caller ends the process."""
    process = subprocess.Popen(
        local_cli_command(store, "--ui"),
        cwd=REPO,
        env=local_cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:") and "?token=" in url, process.stderr
    return process, url
