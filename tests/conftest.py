"""Suite-wide rules: jobs start the way users' do, and nothing a test starts outlives it.

The suite runs the product's defaults: the CLI takes ``local.job_start`` from the config
(``warm``: jobs fork from the store's warm host), as a person's ``make run`` does. The
subprocess fallback has tests of its own that ask for it (``job_start="subprocess"``).

A warm host, an endpoint server and a report follower outlive the command that started them
(by design, for the next command). So after each test every process whose command line
names that test's temporary folder is ended, and at the end of the session every process
naming the session's temporary root: a test's store never leaves a host or a server behind,
however the test ended.

Markers (see pyproject.toml) sort the tests into lanes: ``e2e`` (a fresh CLI process runs
the pipeline), ``aws`` (a moto server), ``browser`` (Chromium). The fast lane for the
edit-test loop is ``pytest -m "not e2e and not browser"``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

_GRACE_S = 5.0


def pytest_configure(config: pytest.Config) -> None:
    """The tests play a person at a terminal, whose Ctrl-C reaches the commands they start.
    A suite run in the background (``make test &`` in a script, nohup) inherits SIGINT
    ignored, and so would every CLI it starts, which then rightly ignores it: the Ctrl-C
    tests failed that way. Each process of the suite (xdist's workers too) turns it on."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def processes_naming(folder: Path, any_user: bool = False) -> list[int]:
    """Pids of this user's processes (every user's with ``any_user``), other than this one,
    whose command line names ``folder``."""
    base = str(folder)
    inside = base + os.sep
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        pid = int(entry.name)
        if pid == os.getpid():
            continue
        try:
            if not any_user and entry.stat().st_uid != os.getuid():
                continue
            argv = entry.joinpath("cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue  # it ended while we looked
        if any(arg == base or inside in arg for arg in argv):
            found.append(pid)
    return found


def no_process_names(folder: Path, within_s: float = 10.0) -> bool:
    """True once no process names ``folder`` (a host told to leave may take a moment)."""
    deadline = time.monotonic() + within_s
    while processes_naming(folder):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def end_processes_naming(folder: Path) -> None:
    """SIGTERM each process naming ``folder``, SIGKILL what is left after a grace period."""
    pids = processes_naming(folder)
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + _GRACE_S
    while pids and time.monotonic() < deadline:
        time.sleep(0.05)
        pids = [pid for pid in pids if _alive(pid)]
    for pid in pids:
        _signal(pid, signal.SIGKILL)


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that talks to the moto server is in the ``aws`` lane (the fixture says so)."""
    for item in items:
        if "moto_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.aws)


@pytest.fixture(autouse=True)
def _nothing_outlives_the_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that had a temporary folder, end every process that names it."""
    yield
    folder = request.node.funcargs.get("tmp_path")
    if isinstance(folder, Path):
        end_processes_naming(folder)


@pytest.fixture(autouse=True, scope="session")
def _the_session_s_own_build_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Definitions built by the CLI are cached in a folder of this run (shared by its xdist
    workers), not in the checkout's: a test's build never answers a person's."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "build-cache"
    saved = os.environ.get("MOONPIPE_BUILD_CACHE")
    os.environ["MOONPIPE_BUILD_CACHE"] = str(folder)
    yield
    if saved is None:
        os.environ.pop("MOONPIPE_BUILD_CACHE", None)
    else:
        os.environ["MOONPIPE_BUILD_CACHE"] = saved


@pytest.fixture(autouse=True, scope="session")
def _nothing_outlives_the_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """At the end, end every process naming the session's temporary root (module-scoped
    stores included)."""
    yield
    end_processes_naming(tmp_path_factory.getbasetemp())
