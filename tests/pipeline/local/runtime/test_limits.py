"""MaxRuntimeInSeconds: SIGTERM at the limit, SIGKILL after the grace period, the status;
signals from outside and the death of the starter."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pipeline.local.runtime.limits import Limit, Watch, processing_status, training_status
from tests.pipeline.local.runtime.conftest import popen_in_job, view

pytestmark = pytest.mark.usefixtures("namespaces_here")

SAVES_ON_TERM = textwrap.dedent("""
    import os, signal, sys, time
    def save(sig, frame):
        time.sleep(0.5)  # saving takes a while: the job must not be cut short meanwhile
        os.makedirs("/opt/ml/model", exist_ok=True)
        open("/opt/ml/model/model.pth", "w").write("saved at SIGTERM")
        sys.exit(0)
    signal.signal(signal.SIGTERM, save)
    print("ready", flush=True)
    time.sleep(60)
""")


def _script(root: Path, text: str, name: str = "train.py") -> str:
    (root / "code").mkdir(exist_ok=True)
    (root / "code" / name).write_text(text)
    return f"/opt/ml/code/{name}"


def _watched(proc: subprocess.Popen[str], limit: Limit) -> tuple[int, Watch]:
    watch = Watch(proc, limit)
    try:
        return proc.wait(timeout=120), watch
    finally:
        watch.end()


def test_sigterm_at_the_limit_lets_the_job_save_its_model(job_root: Path) -> None:
    proc = popen_in_job([sys.executable, _script(job_root, SAVES_ON_TERM)], view(job_root))
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    code, watch = _watched(proc, Limit(max_runtime_s=0.5, grace_s=30))
    assert watch.over_limit and not watch.killed and code == 0
    assert (job_root / "model/model.pth").read_text() == "saved at SIGTERM"
    assert training_status(True, code, None) == {
        "TrainingJobStatus": "Stopped",
        "SecondaryStatus": "MaxRuntimeExceeded",
    }
    assert processing_status(True, code, None) == {"ProcessingJobStatus": "Stopped"}


def test_a_job_without_handler_dies_of_sigterm_at_once(job_root: Path) -> None:
    """The job is pid 2 of its namespace, not pid 1: SIGTERM's default action applies."""
    proc = popen_in_job([sys.executable, "-c", "import time; time.sleep(60)"], view(job_root))
    code, watch = _watched(proc, Limit(max_runtime_s=1.0, grace_s=60))
    assert watch.over_limit and not watch.killed and code == -signal.SIGTERM


def test_a_job_ignoring_sigterm_is_killed_after_the_grace_period(job_root: Path) -> None:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    proc = popen_in_job([sys.executable, "-c", code], view(job_root))
    code_, watch = _watched(proc, Limit(max_runtime_s=1.0, grace_s=1.0))
    assert watch.over_limit and watch.killed and code_ == -signal.SIGKILL


def test_sigterm_reaches_the_python_under_a_shell(job_root: Path) -> None:
    """runproc.sh is bash running python: both are in the job's process group."""
    script = _script(job_root, SAVES_ON_TERM)
    (job_root / "code/run.sh").write_text(f"set -e\npython {script}\necho after\n")
    proc = popen_in_job(["/bin/bash", "/opt/ml/code/run.sh"], view(job_root))
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    _, watch = _watched(proc, Limit(max_runtime_s=0.5, grace_s=30))
    out = proc.stdout.read()
    assert (job_root / "model/model.pth").exists(), out
    # bash itself died of the SIGTERM (as a shell does); the python under it was let finish
    assert watch.over_limit and not watch.killed and "after" not in out


def test_a_job_within_its_limit_is_not_signalled(job_root: Path) -> None:
    proc = popen_in_job([sys.executable, "-c", "print('quick')"], view(job_root))
    code, watch = _watched(proc, Limit(max_runtime_s=60, grace_s=1))
    assert (code, watch.over_limit, watch.killed) == (0, False, False)


def test_a_finished_job_is_completed_or_failed() -> None:
    assert training_status(False, 0, None)["TrainingJobStatus"] == "Completed"
    assert processing_status(False, 3, "exit code 3") == {
        "ProcessingJobStatus": "Failed",
        "FailureReason": "exit code 3",
    }


def test_the_limit_of_a_stopping_condition() -> None:
    assert Limit.of({"MaxRuntimeInSeconds": 5}, grace_s=2) == Limit(5.0, 2.0)
    assert Limit.of(None) == Limit(86400.0, 120.0)  # SageMaker's defaults: 1 day, 120 s


def test_nothing_the_job_started_outlives_it(job_root: Path) -> None:
    """A background process left behind (even in its own session) ends with the job. The
    job ends only once its background process has written (under load the job used to end
    first, the process was killed before its first line, and the test found no file)."""
    code = (
        "import os, subprocess, time; subprocess.Popen(['/bin/sh', '-c', "
        "'while true; do date +%s%N > /opt/ml/alive; sleep 0.05; done'], start_new_session=True)"
        "\nwhile not os.path.exists('/opt/ml/alive'): time.sleep(0.01)"
    )
    proc = popen_in_job([sys.executable, "-c", code], view(job_root))
    proc.communicate(timeout=30)
    time.sleep(0.3)
    first = (job_root / "alive").read_text()
    time.sleep(0.4)
    assert (job_root / "alive").read_text() == first


def test_job_dies_with_whoever_started_it(job_root: Path, tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG on the supervisor, the init's lifeline pipe and PDEATHSIG on the job:
    killing the starter (here a middle process, SIGKILL) ends the job."""
    beat = job_root / "beat"
    r, w = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.close(r)
        proc = popen_in_job(
            ["/bin/sh", "-c", "while true; do date +%s%N > /opt/ml/beat; sleep 0.05; done"],
            view(job_root),
        )
        os.write(w, str(proc.pid).encode())
        time.sleep(60)
        os._exit(0)
    os.close(w)
    supervisor = int(os.read(r, 32))
    time.sleep(0.5)
    assert beat.exists()
    os.kill(middle, signal.SIGKILL)
    os.waitpid(middle, 0)
    time.sleep(0.5)
    first = beat.read_text()
    time.sleep(0.4)
    assert beat.read_text() == first
    assert (
        not Path(f"/proc/{supervisor}").exists()
        or "Z" in Path(f"/proc/{supervisor}/stat").read_text().split()[2]
    )


def test_signals_from_outside_reach_the_job(job_root: Path) -> None:
    code = textwrap.dedent("""
        import signal, sys, time
        signal.signal(signal.SIGUSR1, lambda s, f: open("/opt/ml/usr1", "w").write("got"))
        signal.signal(signal.SIGINT, lambda s, f: sys.exit(7))
        print("ready", flush=True)
        while True:
            time.sleep(0.05)
    """)
    proc = popen_in_job([sys.executable, "-c", code], view(job_root))
    assert proc.stdout and proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGUSR1)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 7
    assert (job_root / "usr1").read_text() == "got"
