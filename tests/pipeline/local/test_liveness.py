"""Liveness by held locks, and signals only to the very process a record names."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from pipeline.local.liveness import (
    is_held,
    owner_of_this_process,
    signal_owner,
    start_token,
    try_lock,
)

HOLDER = """
import sys, time
from pathlib import Path
from pipeline.local.liveness import try_lock
with try_lock(Path(sys.argv[1])) as acquired:
    print(acquired, flush=True)
    time.sleep(60)
"""
REPO = Path(__file__).resolve().parents[3]


def _holder(lock: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "True"
    return proc


def test_a_lock_is_held_while_its_owner_lives_and_free_once_it_is_killed(tmp_path: Path) -> None:
    lock = tmp_path / "runner.lock"
    assert not is_held(lock)
    holder = _holder(lock)
    try:
        assert is_held(lock)
        with try_lock(lock) as acquired:
            assert not acquired
    finally:
        holder.kill()
        holder.wait()
    assert not is_held(lock)
    with try_lock(lock) as acquired:
        assert acquired
        assert is_held(lock)  # a second open file description of this process is refused


def test_start_token_is_the_kernels_start_time_and_none_once_gone() -> None:
    me = owner_of_this_process()
    assert me["pid"] == os.getpid()
    assert me["start_token"] == Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19]
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert int(start_token(child.pid) or 0) >= int(me["start_token"])
    finally:
        child.kill()
        child.wait()
    assert start_token(child.pid) is None


def test_signals_reach_only_the_recorded_process(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        stranger = {"pid": child.pid, "start_token": "1"}  # same pid, another start time
        assert signal_owner(stranger) is False
        assert child.poll() is None
        owner = {"pid": child.pid, "start_token": start_token(child.pid)}
        assert signal_owner(owner, signal.SIGTERM) is True
        assert child.wait(timeout=10) == -signal.SIGTERM
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert signal_owner({"pid": child.pid, "start_token": owner["start_token"]}) is False
    assert signal_owner(None) is False
