"""The engine's side of the warm job host: find or start it through the store, run jobs on it.

One host serves a store (``<store>/warm/host.sock``), so a rerun from a new CLI process finds
the libraries already imported. It is started on demand, detached (it outlives the CLI, as
the endpoint server does), and leaves by itself after an idle timeout or on ``--stop-host``.
A :class:`WarmJob` looks like the ``subprocess.Popen`` the plain path uses (``stdout``,
``pid``, ``poll``, ``wait``, ``terminate``, ``kill``), so stopping and log merging are shared.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pipeline.local.store.layout import StoreLayout

HOST_PROGRAM = Path(__file__).with_name("host.py")
SOCKET_NAME = "host.sock"
DEFAULT_IDLE_S = 600.0
PRELOAD = ("numpy", "pandas", "sklearn.datasets", "sklearn.model_selection", "torch")
_START_TIMEOUT_S = 30.0


# The pending host this process started (WarmStarter.prepare), until a job needs it; a
# process forked from this one (a sweep point's worker) inherits it and may take it too.
_pending: subprocess.Popen[bytes] | None = None


class WarmHostError(RuntimeError):
    """The warm host could not be reached or started (the caller falls back to a subprocess)."""


class WarmJob:
    """A job forked by the host, seen through its output pipe and its connection."""

    def __init__(self, conn: socket.socket, out: int, pid: int) -> None:
        self.conn, self.pid = conn, pid
        self.stdout = open(out, encoding="utf-8", errors="replace")  # noqa: SIM115
        self.returncode: int | None = None
        self._buffer = b""

    def poll(self) -> int | None:
        """The exit code if the job has ended, else None (never blocks)."""
        if self.returncode is None:
            self._read_exit(0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Block until the job ends; subprocess.TimeoutExpired after ``timeout`` seconds."""
        if self.returncode is None:
            self._read_exit(timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(f"warm job {self.pid}", timeout or 0.0)
        return self.returncode

    def terminate(self) -> None:
        """SIGTERM, SageMaker's stop signal (the host reports how the job ended)."""
        self._signal(15)

    def kill(self) -> None:
        """SIGKILL, when the job did not end after SIGTERM."""
        self._signal(9)

    def _signal(self, sig: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def _read_exit(self, timeout: float | None) -> None:
        self.conn.settimeout(timeout)
        try:
            while not self._buffer.endswith(b"\n"):
                chunk = self.conn.recv(4096)
                if not chunk:  # the host died: the kernel killed the job with it
                    self._finish(-9)
                    return
                self._buffer += chunk
        except (BlockingIOError, TimeoutError):
            return
        self._finish(int(json.loads(self._buffer.splitlines()[-1]).get("exit", -9)))

    def _finish(self, code: int) -> None:
        self.returncode = code
        self.conn.close()
        self.stdout.close()  # read to its end by now, or abandoned by a stop


class WarmStarter:
    """Starts jobs on the store's warm host, starting the host when it is not there."""

    def __init__(
        self, store_root: Path, idle_s: float = DEFAULT_IDLE_S, preload: Sequence[str] = PRELOAD
    ) -> None:
        self.warm_dir = StoreLayout(store_root).warm()
        self.idle_s, self.preload = idle_s, tuple(preload)

    def prepare(self) -> None:
        """Start a pending host for this store now, unless a host serves it (host.py): it
        imports while the command checks its request and serves once :meth:`ensure` needs
        it. If nothing does, it leaves when this process ends: a refused command leaves
        neither a process nor a file behind."""
        global _pending
        if _pending is not None or self._serving():
            return
        from pipeline.local.handlers.jobs import host_environment

        _pending = subprocess.Popen(
            self._command(pending=True),
            cwd="/",
            env=host_environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _serving(self) -> bool:
        try:
            self._request({"cmd": "ping"})
        except WarmHostError:
            return False
        return True

    def _command(self, pending: bool = False) -> list[str]:
        head = [sys.executable, str(HOST_PROGRAM)] + (["--pending"] if pending else [])
        return [*head, str(self.warm_dir), str(self.idle_s), *self.preload]

    def can_run(self, argv: Sequence[str], cwd: Path) -> bool:
        """Only ``<our python> SCRIPT.py ARGS`` (SCRIPT relative to ``cwd``): a shell wrapper
        or interpreter flags need a real exec."""
        return (
            sys.platform.startswith("linux")
            and len(argv) >= 2
            and argv[0] == sys.executable
            and not argv[1].startswith("-")
            and argv[1].endswith(".py")
            and (Path(cwd) / argv[1]).is_file()
        )

    def ensure(self) -> int:
        """The host's pid, starting it if needed (it may still be importing: requests queue)."""
        try:
            return int(self._request({"cmd": "ping"})["pid"])
        except WarmHostError:
            pass
        with self._lock():
            try:
                return int(self._request({"cmd": "ping"})["pid"])
            except WarmHostError:
                pass
            with contextlib.suppress(FileNotFoundError):
                (self.warm_dir / SOCKET_NAME).unlink()  # a dead host's socket
            return self._adopt_pending() or self._spawn()

    def start(self, argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> WarmJob:
        """Fork the job on the host; its merged output arrives on ``WarmJob.stdout``."""
        self.ensure()
        read_end, write_end = os.pipe()
        request = {"cmd": "run", "argv": list(argv[1:]), "env": dict(env), "cwd": str(cwd)}
        try:
            conn = self._connect()
            try:
                reply = self._send(conn, request, [write_end])
            except BaseException:
                conn.close()
                raise
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        if "pid" not in reply:
            os.close(read_end)
            conn.close()
            raise WarmHostError(f"warm host refused the job: {reply.get('error')}")
        return WarmJob(conn, read_end, int(reply["pid"]))

    def spawn_detached(
        self, module: str, argv: Sequence[str], env: Mapping[str, str], cwd: Path, log: Path
    ) -> int:
        """``python -m MODULE ARGV`` forked from a running host, in its own session; its pid.

        Only a host already running is used (WarmHostError otherwise): this is how a first
        deploy skips a cold torch import, not a reason to start one.
        """
        request = {"cmd": "spawn", "module": module, "argv": list(argv), "env": dict(env)}
        request["cwd"] = str(cwd)
        out = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            with self._connect() as conn:
                reply = self._send(conn, request, [out])
        finally:
            os.close(out)
        if not reply.get("pid"):
            raise WarmHostError(f"warm host could not start {module}: {reply.get('error')}")
        return int(reply["pid"])

    def stop(self) -> int | None:
        """Ask the host to leave (its running jobs are killed); its pid, or None if absent."""
        try:
            return int(self._request({"cmd": "stop"})["stopping"])
        except WarmHostError:
            return None

    def _request(self, message: dict[str, Any]) -> dict[str, Any]:
        conn = self._connect()
        with conn:
            return self._send(conn, message, [])

    def _send(self, conn: socket.socket, message: dict[str, Any], fds: list[int]) -> dict[str, Any]:
        data = json.dumps(message).encode() + b"\n"
        try:
            conn.settimeout(_START_TIMEOUT_S + 60.0)  # the host may still be importing
            socket.send_fds(conn, [data], fds) if fds else conn.sendall(data)
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = conn.recv(4096)
                if not chunk:
                    raise WarmHostError("warm host closed the connection")
                reply += chunk
        except OSError as err:
            raise WarmHostError(f"warm host: {err}") from None
        return dict(json.loads(reply.splitlines()[0]))

    def _connect(self) -> socket.socket:
        """Connect through an O_PATH handle of the folder: the socket's full path may be long."""
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            folder = os.open(self.warm_dir, os.O_PATH | os.O_DIRECTORY)
        except OSError as err:
            conn.close()
            raise WarmHostError(f"no warm host ({err.strerror})") from None
        try:
            conn.connect(f"/proc/self/fd/{folder}/{SOCKET_NAME}")
        except OSError as err:
            conn.close()
            raise WarmHostError(f"no warm host ({err.strerror})") from None
        finally:
            os.close(folder)
        return conn

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """One starter at a time per store (two CLIs must not start two hosts)."""
        self.warm_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.warm_dir, 0o700)
        with open(self.warm_dir / "start.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _adopt_pending(self) -> int | None:
        """Tell the pending host (:meth:`prepare`) to serve; its pid, or None if there is
        none for this store (or it has gone)."""
        global _pending
        pending = _pending
        if pending is None or pending.stdin is None or pending.args != self._command(True):
            return None
        _pending = None
        try:
            pending.stdin.write(b"serve\n")
            pending.stdin.flush()
        except OSError:
            return None  # it has gone
        return self._wait_for_socket(pending)

    def _spawn(self) -> int:
        """Start the host detached (own session, clean environment) and wait for its socket."""
        from pipeline.local.handlers.jobs import host_environment

        with open(self.warm_dir / "host.log", "ab") as log:
            proc = subprocess.Popen(
                self._command(),
                cwd=self.warm_dir,
                env=host_environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        return self._wait_for_socket(proc)

    def _wait_for_socket(self, proc: subprocess.Popen[bytes]) -> int:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not (self.warm_dir / SOCKET_NAME).exists():
            if not _alive(proc) or time.monotonic() > deadline:
                raise WarmHostError(f"warm host did not start; see {self.warm_dir / 'host.log'}")
            time.sleep(0.005)
        return proc.pid


def _alive(proc: subprocess.Popen[bytes]) -> bool:
    """The process runs: by /proc, as a sweep worker forked from its parent cannot poll() it
    (a host that ended stays a zombie of its parent until polled)."""
    try:
        state = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
