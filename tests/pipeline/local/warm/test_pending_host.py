"""A pending host imports before its command knows it will run a job, creating nothing.

WarmStarter.prepare starts it; the first ensure() that needs a host for the store has it
bind and serve (no second host, no second import); a process that ends without needing it
takes it along.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pipeline.local.warm import client
from pipeline.local.warm.client import WarmStarter
from tests.conftest import no_process_names
from tests.pipeline.local.warm.conftest import run_in, write

PREPARES_THEN_ENDS = """
import sys, time
from pathlib import Path
from pipeline.local.warm.client import WarmStarter
WarmStarter(Path(sys.argv[1]), idle_s=60).prepare()
time.sleep(1.0)  # the host is importing meanwhile
"""


def test_a_prepared_host_creates_nothing_and_leaves_with_its_process(tmp_path: Path) -> None:
    store = tmp_path / "store"
    done = subprocess.run(
        [sys.executable, "-c", PREPARES_THEN_ENDS, str(store)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert no_process_names(tmp_path)
    assert not store.exists()


def test_the_prepared_host_serves_the_store_once_a_job_needs_it(tmp_path: Path) -> None:
    store = tmp_path / "store"
    starter = WarmStarter(store, idle_s=60)
    try:
        starter.prepare()
        pending = client._pending
        assert pending is not None and not store.exists()
        assert starter.ensure() == pending.pid  # the same process: no second host
        assert client._pending is None
        job = tmp_path / "job"
        write(job, "hello.py", "import numpy\nprint('hello from', numpy.__name__)\n")
        run, log = run_in(job, starter, [sys.executable, "hello.py"])
        assert run.exit_code == 0 and "hello from numpy" in log, log
        assert (store / "warm" / "host.log").exists()
    finally:
        starter.stop()
        client._pending = None


def test_a_store_with_a_host_prepares_none(tmp_path: Path) -> None:
    starter = WarmStarter(tmp_path / "store", idle_s=60)
    try:
        starter.ensure()
        starter.prepare()
        assert client._pending is None
    finally:
        starter.stop()
        client._pending = None
