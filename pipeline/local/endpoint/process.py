"""Endpoint server processes: start, wait for /ping, liveness via /proc, stop, and locking.

pipeline/local/endpoint/manager.py owns the records and the public API; this module owns the OS
side, so the record logic reads without pids, signals and procfs in the way. A server is a
detached ``python -m pipeline.local.endpoint.server`` child in its own session (it outlives
the run that deployed it, like a real endpoint); liveness is checked against the recorded pid
*and* its command line, because pids get reused.

Nothing here imports torch: the engine imports pipeline/local/endpoint/manager.py for every run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from pipeline.core.errors import EndpointError, StoreCorruptError
from pipeline.local.store.atomic import read_json, write_bytes

SERVER_MODULE = "pipeline.local.endpoint.server"
# Only what Python needs reaches the server: never the caller's AWS credentials.
_PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "VIRTUAL_ENV")
_REPO_ROOT = Path(__file__).resolve().parents[3]
# Our server children, kept so they can be reaped after delete (else they linger as zombies).
_children: dict[int, subprocess.Popen[bytes]] = {}
_READY_POLL_S = 0.01  # a new server is ready ~0.1 s after its start: look often (a file read)
# Loopback only: an http_proxy in the environment must never see an invocation.
loopback_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def spawn_server(
    endpoint_dir: Path,
    name: str,
    config_name: str,
    model_dir: Path,
    env: Mapping[str, str],
    host: str,
    port: int | None,
) -> ServerProcess:
    """Write a fresh control token and start a detached server; does not wait for it."""
    token = endpoint_dir / "control.token"
    write_bytes(token, secrets.token_urlsafe(32).encode())
    token.chmod(0o600)  # only this user may drive the server's reload route
    for stale in ("server.json", "server.failure"):
        (endpoint_dir / stale).unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        SERVER_MODULE,
        "--endpoint-name",
        name,
        "--endpoint-dir",
        str(endpoint_dir),
        "--config-name",
        config_name,
        "--model-dir",
        str(model_dir),
        "--host",
        host,
        "--port",
        str(port or 0),
    ]
    forked = _spawn_warm(endpoint_dir, command[3:], _server_env(env))
    if forked is not None:
        return forked
    with open(endpoint_dir / "server.log", "ab") as log:
        proc = subprocess.Popen(
            command,
            env=_server_env(env),
            cwd=endpoint_dir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _children[proc.pid] = proc
    return proc


class ServerProcess(Protocol):
    """A started server as the manager watches it: a Popen, or a :class:`ForkedServer`."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    def poll(self) -> int | None: ...


class ForkedServer:
    """A server forked from the store's warm host: not our child, so watched through /proc."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """-1 once the process has gone (its real exit code went to init)."""
        if self.returncode is None and _exited(self.pid):
            self.returncode = -1
        return self.returncode


def _spawn_warm(endpoint_dir: Path, args: list[str], env: dict[str, str]) -> ForkedServer | None:
    """Fork the server from the store's warm host if one runs (torch is imported there).

    None when there is no host or it cannot: the caller starts a fresh interpreter.
    """
    from pipeline.local.warm.client import WarmHostError, WarmStarter

    starter = WarmStarter(endpoint_dir.parent.parent)  # <store>/endpoints/<name>
    log = endpoint_dir / "server.log"
    try:
        return ForkedServer(starter.spawn_detached(SERVER_MODULE, args, env, endpoint_dir, log))
    except (WarmHostError, OSError):
        return None


def wait_until_serving(proc: ServerProcess, endpoint_dir: Path, timeout_s: float) -> int:
    """The server's port once GET /ping answers 200; EndpointError if it dies or hangs."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            failure = endpoint_dir / "server.failure"
            reason = (
                failure.read_text().strip()
                if failure.exists()
                else f"server exited with code {proc.returncode}; see {endpoint_dir / 'server.log'}"
            )
            raise EndpointError(f"endpoint {endpoint_dir.name!r} failed to start: {reason}")
        ready = read_json_or_none(endpoint_dir / "server.json")
        if ready is not None and ready.get("pid") == proc.pid:
            with contextlib.suppress(OSError):
                url = f"http://127.0.0.1:{ready['port']}/ping"
                with loopback_opener.open(url, timeout=2) as response:
                    if response.status == 200:
                        return int(ready["port"])
        time.sleep(_READY_POLL_S)
    raise EndpointError(
        f"endpoint {endpoint_dir.name!r} did not answer /ping within "
        f"{timeout_s:g} s; see {endpoint_dir / 'server.log'}"
    )


def server_alive(record: Mapping[str, Any], endpoint_dir: Path) -> bool:
    """True only if the recorded pid is still *this* endpoint's server (pids get reused)."""
    pid = record.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    _reap(pid)
    proc_dir = Path(f"/proc/{pid}")
    if not Path("/proc/self").exists():  # no procfs (macOS): the best check available
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    try:
        cmdline = (proc_dir / "cmdline").read_bytes().split(b"\0")
        state = (proc_dir / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    if state == "Z":
        return False
    if SERVER_MODULE.encode() in cmdline and str(endpoint_dir).encode() in cmdline:
        return True
    return _forked_server(proc_dir, cmdline, endpoint_dir)


def _forked_server(proc_dir: Path, cmdline: list[bytes], endpoint_dir: Path) -> bool:
    """A server forked from the warm host keeps the host's command line; its cwd names it."""
    if not any(arg.endswith(b"/warm/host.py") for arg in cmdline[:2]):
        return False
    try:
        return Path(os.readlink(proc_dir / "cwd")) == endpoint_dir
    except OSError:
        return False


def find_servers(endpoint_dir: Path) -> list[int]:
    """Pids of every live server of this endpoint, found by its command line.

    The record may not know a server yet (a kill right after it was started); the process
    table always does, so delete and the settling of records look here too. A server's
    workers (forks of it, pipeline/local/endpoint/prefork.py) share its command line; they
    are not servers of their own: stopping the server drains them.
    """
    wanted = [SERVER_MODULE.encode(), b"--endpoint-dir", str(endpoint_dir).encode()]
    found: dict[int, int] = {}  # pid -> parent pid
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            args = cmdline.read_bytes().split(b"\0")
            at = args.index(wanted[1]) if wanted[1] in args else -1
            ours = wanted[0] in args and 0 <= at < len(args) - 1 and args[at + 1] == wanted[2]
            if ours or _forked_server(cmdline.parent, args, endpoint_dir):
                pid = int(cmdline.parent.name)
                if server_alive({"pid": pid}, endpoint_dir):
                    stat = (cmdline.parent / "stat").read_text()
                    found[pid] = int(stat.rsplit(")", 1)[1].split()[1])
    return sorted(pid for pid, parent in found.items() if parent not in found)


def stop_server(pid: int) -> None:
    """SIGTERM (a drain: requests in flight are answered, none is reset), SIGKILL if still
    there after 10 s."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        _reap(pid)
        if _exited(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.1)
    _reap(pid)


def _exited(pid: int) -> bool:
    """Gone, or a zombie waiting for its parent (it serves nothing any more)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False


def _reap(pid: int) -> bool:
    """Collect our own child's exit status if it has exited; True if it was alive before."""
    proc = _children.get(pid)
    if proc is None:
        return False
    if proc.poll() is None:
        return True
    del _children[pid]
    return False


def _server_env(model_env: Mapping[str, str]) -> dict[str, str]:
    env = {k: os.environ[k] for k in _PASSED_ENV if k in os.environ}
    python_path = [str(_REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env.update(model_env)
    env.update(
        PYTHONPATH=os.pathsep.join(python_path),
        PYTHONUNBUFFERED="1",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
    )
    return env


def read_json_or_none(path: Path) -> dict[str, Any] | None:
    """A JSON object, or None if the file is missing, damaged or not an object.

    Callers poll files a server or a crash may have left half-made; None lets them decide.
    """
    try:
        value = read_json(path)
    except (OSError, ValueError, StoreCorruptError):
        return None
    return value if isinstance(value, dict) else None


@contextlib.contextmanager
def locked(endpoint_dir: Path) -> Iterator[None]:
    """One deploy or delete per endpoint at a time, across processes."""
    if not endpoint_dir.is_dir():
        yield
        return
    with open(endpoint_dir / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
