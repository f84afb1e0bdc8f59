"""The warm host keeps jobs apart, outlives their crashes and stops, leaves when told or idle."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pipeline.local.warm.client import SOCKET_NAME, WarmStarter
from tests.conftest import no_process_names
from tests.pipeline.local.runtime.conftest import needs_namespaces
from tests.pipeline.local.warm.conftest import run_in, write

SETS_STATE = """
import json, sys
import helper_mod
helper_mod.VALUE = "set by job one"
json.LEAKED = True
sys.modules["planted"] = object()
print("planted")
"""
READS_STATE = """
import json, sys
print("helper_mod" in sys.modules, hasattr(json, "LEAKED"), "planted" in sys.modules)
import helper_mod
print(helper_mod.VALUE)
"""
TORCH = """
import torch
print(torch.get_num_threads(), torch.get_num_interop_threads())
a = torch.randn(300, 300)
print(float((a @ a).sum()) == float((a @ a).sum()))
"""
HANGS = """
import os, time
open("pid", "w").write(str(os.getpid()))
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # the process may end between any two looks
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _wait_gone(pid: int, within_s: float = 20.0) -> bool:
    deadline = time.monotonic() + within_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _alive(pid)


def _job(tmp: Path, starter: WarmStarter, script: Path, on_line=None) -> tuple[int, str]:
    run, log = run_in(tmp, starter, [sys.executable, str(script)], on_line=on_line)
    return run.exit_code, log


def test_a_global_or_module_one_job_sets_is_not_seen_by_the_next(
    tmp_path: Path, starter: WarmStarter
) -> None:
    code = tmp_path / "code"
    write(code, "helper_mod.py", "VALUE = 'fresh'\n")
    one = _job(tmp_path / "one", starter, write(code, "one.py", SETS_STATE))
    two = _job(tmp_path / "two", starter, write(code, "two.py", READS_STATE))
    assert one == (0, "planted\n")
    assert two == (0, "False False False\nfresh\n")


def test_torch_keeps_one_thread_and_computes_in_every_forked_job(
    tmp_path: Path, starter: WarmStarter
) -> None:
    script = write(tmp_path / "code", "torch_job.py", TORCH)
    for n in range(2):  # a pool started by the first job must not hang the second
        assert _job(tmp_path / str(n), starter, script) == (0, "1 1\nTrue\n")


def test_a_stopped_hanging_job_ends_and_the_host_keeps_serving(
    tmp_path: Path, starter: WarmStarter
) -> None:
    hangs = write(tmp_path / "code", "hangs.py", HANGS)

    def stop_when_ready(line: str) -> None:  # what --stop does to the runner: an interrupt
        if line == "ready":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _job(tmp_path / "hang", starter, hangs, stop_when_ready)
    assert _wait_gone(int((tmp_path / "hang" / "pid").read_text()))
    log = (tmp_path / "hang" / "job.log").read_text()
    assert log == "ready\njob stopped: the execution was interrupted or stopped\n"
    ok = write(tmp_path / "code", "ok.py", "print('still here')\n")
    assert _job(tmp_path / "after", starter, ok) == (0, "still here\n")


def test_a_job_dies_with_the_process_that_asked_for_it(tmp_path: Path) -> None:
    """As PR_SET_PDEATHSIG does for subprocesses: a SIGKILLed runner leaves no job behind."""
    store = tmp_path / "store"
    hangs = write(tmp_path / "code", "hangs.py", HANGS)
    runner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path\n"
            "from pipeline.local.warm.client import WarmStarter\n"
            "job = WarmStarter(Path(sys.argv[1]), 60, (), {}).start("
            "[sys.executable, sys.argv[2]], {}, Path(sys.argv[3]))\n"
            "print(job.pid, flush=True); job.stdout.readline(); print('ready', flush=True)\n"
            "import time; time.sleep(600)",
            str(store),
            str(hangs),
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert runner.stdout is not None
    job_pid = int(runner.stdout.readline())
    assert runner.stdout.readline() == "ready\n"
    assert _alive(job_pid)
    runner.kill()
    runner.wait()
    try:
        assert _wait_gone(job_pid)
    finally:
        WarmStarter(store).stop()


def test_the_host_leaves_when_asked_and_when_idle(tmp_path: Path) -> None:
    asked = WarmStarter(tmp_path / "a", idle_s=300, preload=(), lanes={})
    pid = asked.ensure()
    assert asked.ensure() == pid  # found through the store, not started twice
    folder = tmp_path / "a" / "warm"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / SOCKET_NAME).stat().st_mode) == 0o600
    assert asked.stop() == pid
    assert _wait_gone(pid) and not (folder / SOCKET_NAME).exists()
    assert asked.stop() is None

    idle = WarmStarter(tmp_path / "b", idle_s=1, preload=(), lanes={})
    idle_pid = idle.ensure()
    assert _wait_gone(idle_pid, within_s=60)
    assert not (tmp_path / "b" / "warm" / SOCKET_NAME).exists()


def test_commands_that_are_not_a_python_script_run_as_subprocesses(
    tmp_path: Path, starter: WarmStarter
) -> None:
    shell = write(tmp_path, "run.sh", 'echo "$PPID"\n')
    script = write(tmp_path, "ppid.py", "import os\nprint(os.getppid())\n")
    assert not starter.can_run(["/bin/sh", str(shell)], shell)
    assert not starter.can_run([sys.executable, "-u", str(script)], script)
    assert starter.can_run([sys.executable, str(script)], script)
    assert starter.can_run([sys.executable, "ppid.py"], script)  # as training jobs run
    assert not starter.can_run([sys.executable, "ppid.py"], tmp_path / "elsewhere" / "ppid.py")
    for n, (argv, parent) in enumerate(
        (
            (["/bin/sh", str(shell)], os.getpid()),
            ([sys.executable, "-u", str(script)], os.getpid()),
            ([sys.executable, str(script)], starter.ensure()),
        )
    ):
        run, log = run_in(tmp_path / f"job{n}", starter, argv)
        assert run.exit_code == 0
        assert int(log) == parent


def test_threads_in_the_caller_do_not_matter(tmp_path: Path, starter: WarmStarter) -> None:
    """Several runners' threads may start jobs at once (the host serialises nothing but forks)."""
    script = write(tmp_path / "code", "n.py", "import sys\nprint(sys.argv[1])\n")
    results: dict[int, tuple[int, str]] = {}

    def one(n: int) -> None:
        run, log = run_in(tmp_path / str(n), starter, [sys.executable, str(script), str(n)])
        results[n] = (run.exit_code, log)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {n: (0, f"{n}\n") for n in range(4)}
    assert signal.getsignal(signal.SIGCHLD) in (signal.SIG_DFL, None)


SAYS_PID = "import os\nprint(os.getpid(), os.getppid())\n"


def test_the_next_job_is_forked_ahead_of_its_request_and_leaves_with_the_host(
    tmp_path: Path,
) -> None:
    """A fork of the host holding torch costs ~10 ms: the host forks the next job's process
    while the last one runs, and hands the next request to it."""
    starter = WarmStarter(tmp_path / "store", idle_s=120, preload=("numpy",), lanes={})
    host = starter.ensure()
    script = write(tmp_path / "code", "pid.py", SAYS_PID)
    try:
        spares = []
        for n in range(2):
            deadline = time.monotonic() + 30
            while (spare := starter._request({"cmd": "ping"})["spare"]) is None:
                assert time.monotonic() < deadline, "no spare was forked"
                time.sleep(0.02)
            spares.append(spare)
            code, log = _job(tmp_path / f"job{n}", starter, script)
            assert code == 0 and log.split() == [str(spare), str(host)]
        assert spares[0] != spares[1]
    finally:
        starter.stop()
    assert _wait_gone(host)
    assert no_process_names(tmp_path)  # the spare forked after the last job too


def test_a_job_takes_one_connection_and_a_dead_host_is_replaced_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ping before each job (a connection and a round trip less); a host that died
    since (killed, or gone idle) is started again and the job still forks from it."""
    starter = WarmStarter(tmp_path / "store", idle_s=120, preload=(), lanes={})
    first = starter.ensure()
    script = write(tmp_path / "code", "pid.py", SAYS_PID)
    connections: list[str] = []
    real_connect = WarmStarter._connect

    def counting(self: WarmStarter, *args: str) -> object:
        connections.append(args[0] if args else SOCKET_NAME)
        return real_connect(self, *args)

    monkeypatch.setattr(WarmStarter, "_connect", counting)
    try:
        code, log = _job(tmp_path / "one", starter, script)
        assert code == 0 and log.split()[1] == str(first)  # forked from the host
        assert connections == [SOCKET_NAME]
        os.kill(first, signal.SIGKILL)
        assert _wait_gone(first)
        code, log = _job(tmp_path / "two", starter, script)
        second = starter.ensure()
        assert second != first
        assert code == 0 and log.split()[1] == str(second)  # warm again, from the new host
    finally:
        starter.stop()
    assert no_process_names(tmp_path)


LISTS_FDS = """
import os
for fd in sorted(os.listdir("/proc/self/fd"), key=int):
    if os.path.exists(f"/proc/self/fd/{fd}"):  # listdir's own handle is closed by now
        print(fd, os.readlink(f"/proc/self/fd/{fd}"))
"""


@pytest.mark.parametrize("namespaces", [True, False], ids=["namespaces", "paths"])
def test_a_job_holds_only_its_own_descriptors(
    tmp_path: Path, starter: WarmStarter, namespaces: bool
) -> None:
    """Its supervisor holds the client's connection (to write the exit line early); the
    job never does (it could write a client a false exit code), nor anything else of the
    host's (its selector's epoll instance once leaked into every job)."""
    if namespaces:
        needs_namespaces()
    for n in range(2):  # the first and the next spare
        write(tmp_path / f"job{n}" / "code", "fds.py", LISTS_FDS)
        run, log = run_in(
            tmp_path / f"job{n}",
            starter,
            [sys.executable, "/opt/ml/code/fds.py"],
            cwd="/opt/ml/code",
            namespaces=namespaces,
        )
        assert run.exit_code == 0, log
        assert [line.split()[0] for line in log.splitlines()] == ["0", "1", "2"], log


def test_the_supervisor_writes_the_exit_line_before_the_host_does(
    tmp_path: Path, starter: WarmStarter
) -> None:
    """A namespaced job's supervisor writes its exit line once nothing of the job is left,
    before its own exit (~7 ms for a fork of a host holding torch); the host's line on
    reaping it follows, the same."""
    from pipeline.local.handlers.jobs import CONTAINER_HOME
    from pipeline.local.runtime.mode import JobRuntime
    from pipeline.local.runtime.namespace import JobView

    needs_namespaces()
    job = tmp_path / "job"
    write(job / "code", "ends.py", "print('ran', flush=True)\nraise SystemExit(3)\n")
    runtime = JobRuntime(tmp_path / "store", starter, True)
    view = JobView(
        job_root=job,
        home=CONTAINER_HOME,
        network=True,
        share=None,
        hostname="algo-1",
        hosts={},
        keep=runtime.kept(None),
        hide=runtime.hidden(),
    )
    warm = starter.start([sys.executable, "/opt/ml/code/ends.py"], {}, "/opt/ml/code", view)
    assert warm.stdout.read() == "ran\n"
    warm.conn.settimeout(20)
    lines = b""
    while chunk := warm.conn.recv(4096):
        lines += chunk
    assert lines.splitlines() == [b'{"exit": 3}', b'{"exit": 3}']
