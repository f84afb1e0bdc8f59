"""A job forked by the warm host sees what a subprocess of python sees, and ends the same way."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pipeline.local.handlers.jobs import JobRun, failure_reason
from pipeline.local.warm.client import WarmStarter
from tests.pipeline.local.warm.conftest import run_in, write

REPORT = """
import json, os, sys
print("hello from", os.path.basename(sys.argv[0]))
print("to stderr", file=sys.stderr)
facts = {"argv": sys.argv, "cwd": os.getcwd(), "env": dict(os.environ),
         "path0": sys.path[0], "main": __name__, "file": __file__,
         "stdout_encoding": sys.stdout.encoding}
with open(os.environ["FACTS"], "w") as out:
    json.dump(facts, out)
"""
ENDINGS = {
    "exit0": "print('done')\n",
    "exit3": "import sys\nprint('three')\nsys.exit(3)\n",
    "message": "import sys\nsys.exit('bad input: x')\n",
    "crash": "def f():\n    raise ValueError('boom')\nprint('before')\nf()\n",
    "failure_file": (
        "import os, sys\nos.makedirs('out', exist_ok=True)\n"
        "open('out/failure', 'w').write('the reason')\nsys.exit(2)\n"
    ),
    "killed": "import os, signal\nprint('going', flush=True)\nos.kill(os.getpid(), 9)\n",
    "atexit": "import atexit\natexit.register(lambda: print('at exit'))\nprint('main')\n",
    # The host's libraries' exit-time finalizers are not the job's: none is pending in a
    # fresh interpreter, so none in a forked job; the job's own still runs at its exit.
    "finalizers": (
        "import weakref\nprint(sum(f.atexit for f in weakref.finalize._registry.values()))\n"
        "class T: pass\nt = T()\nweakref.finalize(t, print, 'finalized')\n"
    ),
}


def _run(tmp: Path, starter: WarmStarter | None, script: Path, *args: str) -> tuple[JobRun, str]:
    job = tmp / ("warm" if starter else "cold")
    (job / "work").mkdir(parents=True, exist_ok=True)
    env = {"FACTS": str(job / "facts.json"), "MY_SETTING": "é"}
    return run_in(job, starter, [sys.executable, str(script), *args], env, "/opt/ml/work")


def test_argv_environment_cwd_and_output_are_the_same_both_ways(
    tmp_path: Path, starter: WarmStarter
) -> None:
    script = write(tmp_path / "code", "report.py", REPORT)
    cold, cold_log = _run(tmp_path, None, script, "--epochs", "3", "x y")
    warm, warm_log = _run(tmp_path, starter, script, "--epochs", "3", "x y")
    facts = {
        kind: json.loads((tmp_path / kind / "facts.json").read_text()) for kind in ("cold", "warm")
    }
    assert cold == warm == JobRun(0, ("hello from report.py", "to stderr"))
    assert cold_log == warm_log == "hello from report.py\nto stderr\n"
    cold_facts, warm_facts = facts["cold"], facts["warm"]
    assert warm_facts["argv"] == cold_facts["argv"] == [str(script), "--epochs", "3", "x y"]
    assert warm_facts["cwd"] == str(tmp_path / "warm" / "work")
    assert cold_facts["cwd"] == str(tmp_path / "cold" / "work")
    assert warm_facts["path0"] == cold_facts["path0"] == str(script.parent)
    assert warm_facts["main"] == cold_facts["main"] == "__main__"
    assert warm_facts["stdout_encoding"].lower() == cold_facts["stdout_encoding"].lower()

    def own(env: dict[str, str], kind: str) -> dict[str, str]:
        return {k: v.replace(str(tmp_path / kind), "JOB") for k, v in env.items()}

    assert own(warm_facts["env"], "warm") == own(cold_facts["env"], "cold")
    assert warm_facts["env"]["MY_SETTING"] == "é"


@pytest.mark.parametrize("ending", sorted(ENDINGS))
def test_exit_codes_failure_reasons_and_logs_are_the_same_both_ways(
    tmp_path: Path, starter: WarmStarter, ending: str
) -> None:
    script = write(tmp_path / "code", f"{ending}.py", ENDINGS[ending])
    cold, cold_log = _run(tmp_path, None, script)
    warm, warm_log = _run(tmp_path, starter, script)
    assert warm == cold
    assert warm_log == cold_log
    reasons = [
        failure_reason(tmp_path / kind / "work" / "out" / "failure", run, tmp_path / kind)
        for kind, run in (("cold", cold), ("warm", warm))
    ]
    assert reasons[0] == reasons[1]


def test_the_endings_are_what_python_does(tmp_path: Path, starter: WarmStarter) -> None:
    """Guards the comparison above: each ending really exercises its case."""
    runs = {
        name: _run(tmp_path / name, starter, write(tmp_path / "code", f"{name}.py", text))
        for name, text in ENDINGS.items()
    }
    assert runs["exit0"][0].exit_code == 0
    assert runs["exit3"][0].exit_code == 3
    assert runs["message"] == (JobRun(1, ("bad input: x",)), "bad input: x\n")
    crash_run, crash_log = runs["crash"]
    assert crash_run.exit_code == 1
    assert crash_log.startswith("before\nTraceback (most recent call last):\n  File ")
    assert crash_log.endswith("ValueError: boom\n") and "runpy" not in crash_log
    assert runs["failure_file"][0].exit_code == 2
    assert runs["killed"][0] == JobRun(-9, ("going",))
    assert runs["atexit"][1] == "main\nat exit\n"
    assert runs["finalizers"][1] == "0\nfinalized\n"


def test_a_script_named_relative_to_its_folder_runs_the_same_both_ways(
    tmp_path: Path, starter: WarmStarter
) -> None:
    """Training jobs run ``python train.py`` in /opt/ml/code."""
    logs = {}
    for kind, chosen in (("cold", None), ("warm", starter)):
        job = tmp_path / kind
        write(job / "work", "rel.py", "import os, sys\nprint(sys.argv[0], __file__, sys.path[0])\n")
        run, logs[kind] = run_in(job, chosen, [sys.executable, "rel.py"], cwd="/opt/ml/work")
        assert run.exit_code == 0
    cold, warm = logs["cold"], logs["warm"]
    assert warm == cold.replace("/cold/", "/warm/")
    assert warm.startswith(f"rel.py {tmp_path / 'warm' / 'work' / 'rel.py'} ")
