"""``run_pipeline.py`` in a fresh process that pauses at one named moment of a run, so a
test (or tests/faults/fault_injection.py) can kill or stop it exactly there.

Moments: ``recorded`` (--start or --retry has recorded the execution, or a sweep one of its
points, and returned) and ``host`` (the run is about to find or start the warm job host).
The pause writes ``PAUSE_MARK`` and waits for ``PAUSE_RELEASE`` to exist (two minutes at
most); it happens once per process tree (a sweep's second worker runs on).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.cli_runner import REPO, local_cli_command, local_cli_env

PAUSED_CLI = r"""
import os, sys, time
from pathlib import Path

def pause():
    mark = Path(os.environ["PAUSE_MARK"])
    if mark.exists():
        return  # once per test (a sweep's second worker runs on)
    mark.write_text(str(os.getpid()))
    release = Path(os.environ["PAUSE_RELEASE"])
    deadline = time.monotonic() + 120
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.01)

moment = os.environ["PAUSE_AT"]
import pipeline.local.runner as runner_module
if moment == "recorded":
    for name in ("start", "retry"):
        def after(self, *args, _real=getattr(runner_module.LocalRunner, name), **kwargs):
            result = _real(self, *args, **kwargs)
            pause()
            return result
        setattr(runner_module.LocalRunner, name, after)
elif moment == "host":
    real_runtime = runner_module.job_runtime
    def runtime(*args, **kwargs):
        if sys._getframe(1).f_code.co_name == "_run":  # not the early warm_up
            pause()
        return real_runtime(*args, **kwargs)
    runner_module.job_runtime = runtime
import run_pipeline
sys.exit(run_pipeline.main(sys.argv[1:]))
"""


class Paused:
    """A CLI process paused at one moment of its run."""

    def __init__(self, store: Path, moment: str, *flags: str) -> None:
        self.store, self.folder = store, store.parent
        self.mark, self.release = self.folder / "paused", self.folder / "release"
        self.mark.unlink(missing_ok=True)
        self.release.unlink(missing_ok=True)
        env = {
            **local_cli_env(),
            "PAUSE_AT": moment,
            "PAUSE_MARK": str(self.mark),
            "PAUSE_RELEASE": str(self.release),
        }
        self.proc = subprocess.Popen(
            local_cli_command(store, *flags, code=PAUSED_CLI),
            cwd=REPO,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 90
        while not self.mark.exists():
            assert self.proc.poll() is None, self.proc.communicate()
            assert time.monotonic() < deadline, "the CLI never reached the moment"
            time.sleep(0.01)

    def let_go(self) -> tuple[str, str]:
        """Release the pause; the CLI's (stdout, stderr) once it has ended."""
        self.release.write_text("go")
        out, err = self.proc.communicate(timeout=120)
        return out, err
